package tracker

import "sync"

// ExternalCounts are one tag's counters as a counter outside the ledger
// keeps them: totals since start, not changes.
type ExternalCounts struct {
	LiveBytes, LiveCount           int64
	PeakBytes                      int64
	AllocatedBytes, AllocatedCount int64
	FreedBytes, FreedCount         int64
}

// An External brings counters kept outside the ledger into it. Code that
// cannot call the ledger for each allocation (C code: a cgo callback costs
// about a microsecond) counts its memory itself, per tag; an External reads
// those counters when synced and moves the ledger's counters for its kind,
// each tag and (kind, host, tag) by what changed since the last sync. The
// memory then shows in KindStats, TagStats and AllStats like any other,
// but has no records: no stacks, no leak reports.
type External struct {
	kind Kind
	read func(report func(tag string, c ExternalCounts))

	mu   sync.Mutex
	last map[string]ExternalCounts
}

var externals struct {
	sync.Mutex
	list []*External
}

// NewExternal registers an outside counter of kind k. read must call
// report once per tag with that tag's current totals; it is called by Sync
// and SyncExternal, never concurrently with itself.
func NewExternal(k Kind, read func(report func(tag string, c ExternalCounts))) *External {
	x := &External{kind: k, read: read, last: map[string]ExternalCounts{}}
	externals.Lock()
	externals.list = append(externals.list, x)
	externals.Unlock()
	return x
}

// SyncExternal syncs every External registered so far.
func SyncExternal() {
	externals.Lock()
	list := append([]*External(nil), externals.list...)
	externals.Unlock()
	for _, x := range list {
		x.Sync()
	}
}

// Sync reads the outside counters and brings the ledger up to date.
func (x *External) Sync() {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.read(x.update)
}

func (x *External) update(tag string, c ExternalCounts) {
	prev := x.last[tag]
	if c == prev {
		return
	}
	x.last[tag] = c
	e := entryFor(key{x.kind, -1, tag})
	c0 := &e.counters
	c0.liveBytes.Add(c.LiveBytes - prev.LiveBytes)
	c0.liveCount.Add(c.LiveCount - prev.LiveCount)
	c0.allocBytes.Add(c.AllocatedBytes - prev.AllocatedBytes)
	c0.allocCount.Add(c.AllocatedCount - prev.AllocatedCount)
	c0.freedBytes.Add(c.FreedBytes - prev.FreedBytes)
	c0.freedCount.Add(c.FreedCount - prev.FreedCount)
	raisePeak(&c0.peakBytes, c0.liveBytes.Load())
	for _, t := range []*totals{&kindCounters[x.kind], &e.tag.totals} {
		t.liveBytes.Add(c.LiveBytes - prev.LiveBytes)
		t.commit()
	}
	// The outside counter saw its own peak between syncs; for the
	// (kind, host, tag) counters, which it feeds alone or with the
	// ledger's own records of that tag, it is a lower bound of the peak.
	raisePeak(&c0.peakBytes, c.PeakBytes)
}
