// Package outside is the ledger's entry point for counters kept outside
// it (tracker/external): package tracker fills in Add, tracker/external
// fills in Sync.
package outside

import "sync/atomic"

// Counts are one tag's counters as a counter outside the ledger keeps
// them: totals since start, not changes.
type Counts struct {
	LiveBytes, LiveCount           int64
	PeakBytes                      int64
	AllocatedBytes, AllocatedCount int64
	FreedBytes, FreedCount         int64
}

// Add moves the ledger's counters of (kind, host, tag) by what changed
// from prev to c (both within [0, MaxInt64]). entry is what the previous
// Add returned for this tag, nil the first time: the counters it was
// brought into (the tag's own, or OverflowTag's), so that what was added is
// taken back from where it was added. Set by package tracker.
var Add func(kind uint8, tag string, entry any, prev, c Counts) (entryOut any)

// Sync brings every outside counter into the ledger; the ledger calls it
// before it reads its counters. Set by tracker/external when the first
// External is made.
var Sync atomic.Pointer[func()]
