package tracker

import (
	"sync/atomic"

	"github.com/membridge/membridge/tracker/internal/outside"
)

// Counters kept outside the ledger (C code: a cgo callback per allocation
// costs about a microsecond) come in through tracker/external, which reads
// them and hands the ledger what changed since the last read (addOutside).
// The memory then shows in KindStats, TagStats and AllStats like any
// other, but has no records: no stacks, no leak reports.

func init() { outside.Add = addOutside }

// syncOutside brings the outside counters in before counters are read.
func syncOutside() {
	if f := outside.Sync.Load(); f != nil {
		(*f)()
	}
}

// addOutside moves the counters of (k, host, tag) by what changed from
// prev to c; e is the entry the last call returned for the tag, or nil.
func addOutside(k uint8, tag string, e any, prev, c outside.Counts) any {
	kind := Kind(k)
	entry, _ := e.(*keyEntry)
	if entry == nil {
		entry = entryFor(key{kind, -1, tag})
	}
	c0 := &entry.counters
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
	for _, t := range []*totals{&kindCounters[kind], &entry.tag.totals} {
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
	return entry
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
