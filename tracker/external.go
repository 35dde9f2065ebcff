package tracker

import (
	"sync"
	"sync/atomic"
)

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
	last map[string]externalTag
}

// externalTag is what an External last brought in for one outside tag, and
// the counters it brought it into: the tag's own, or OverflowTag's when the
// ledger did not keep the tag. The tag stays with those counters, so that
// what was added is taken back from where it was added even if the tag is
// let in later.
type externalTag struct {
	counts ExternalCounts
	e      *keyEntry
}

var externals struct {
	sync.Mutex
	list []*External
}

// NewExternal registers an outside counter of kind k. read must call
// report once per tag with that tag's current totals; it is called by Sync
// and SyncExternal, never concurrently with itself.
//
// Outside tags are subject to MaxTags like any other: one the ledger does
// not keep is counted under OverflowTag, for good. The External remembers
// the last counts of every tag it was told of, so an outside counter should
// have few tags (the C API has at most 64).
func NewExternal(k Kind, read func(report func(tag string, c ExternalCounts))) *External {
	x := &External{kind: k, read: read, last: map[string]externalTag{}}
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
	c = c.clamped()
	last := x.last[tag]
	prev, e := last.counts, last.e
	if c == prev { // a tag first seen with nothing counted takes no place
		return
	}
	if e == nil {
		e = entryFor(key{x.kind, -1, tag})
	}
	x.last[tag] = externalTag{c, e}
	c0 := &e.counters
	// Both sides are within [0, MaxInt64], so no difference overflows;
	// what the differences are added to stays within [0, MaxInt64] too
	// (addClamped), so that no total wraps, however wrong the outside
	// counts.
	live := c.LiveBytes - prev.LiveBytes
	addClamped(&c0.liveBytes, live)
	addClamped(&c0.liveCount, c.LiveCount-prev.LiveCount)
	addClamped(&c0.allocBytes, c.AllocatedBytes-prev.AllocatedBytes)
	addClamped(&c0.allocCount, c.AllocatedCount-prev.AllocatedCount)
	addClamped(&c0.freedBytes, c.FreedBytes-prev.FreedBytes)
	addClamped(&c0.freedCount, c.FreedCount-prev.FreedCount)
	raisePeak(&c0.peakBytes, c0.liveBytes.Load())
	for _, t := range []*totals{&kindCounters[x.kind], &e.tag.totals} {
		t.addLive(live)
		t.commit()
	}
	// The outside counter saw its own peak between syncs; for the
	// (kind, host, tag) counters, which it feeds alone or with the
	// ledger's own records of that tag, it is a lower bound of the peak.
	raisePeak(&c0.peakBytes, c.PeakBytes)
	if live < 0 {
		wakeLimitWaiters()
	}
}

// clamped returns c with every count within [0, MaxInt64]: an outside
// counter is unsigned or may be corrupt, and a negative count (a huge
// unsigned one converted) would move the ledger's totals the wrong way.
func (c ExternalCounts) clamped() ExternalCounts {
	c.LiveBytes, c.LiveCount = max(c.LiveBytes, 0), max(c.LiveCount, 0)
	c.PeakBytes = max(c.PeakBytes, 0)
	c.AllocatedBytes, c.AllocatedCount = max(c.AllocatedBytes, 0), max(c.AllocatedCount, 0)
	c.FreedBytes, c.FreedCount = max(c.FreedBytes, 0), max(c.FreedCount, 0)
	return c
}

// addClamped adds d to v, a count that is never negative, keeping the
// result within [0, MaxInt64]: outside counts that would take it past
// MaxInt64 saturate it, and once it has saturated, the decreases that follow
// stop at 0 instead of going below. The count is then an estimate until it
// comes back to 0, never a wrapped value that would let a limit be passed.
func addClamped(v *atomic.Int64, d int64) {
	for {
		o := v.Load()
		if v.CompareAndSwap(o, max(addSat(o, d), 0)) {
			return
		}
	}
}
