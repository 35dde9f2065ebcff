package cext

import "github.com/membridge/membridge/tracker/external"

var cCounters = external.New(KindCExtension, readCounters)

// Sync brings the C side's counters (blocks C holds and did not trace)
// into the ledger, so that tracker.TagStats, KindStats and AllStats show
// them under kind c-extension. Call it before reading the ledger's
// counters; it costs a few microseconds per C thread that ever allocated.
func Sync() {
	cCounters.Sync()
}

func readCounters(report func(tag string, c external.Counts)) {
	for i := range cTagCount() {
		s, ok := cReadTagStats(i)
		if !ok {
			continue
		}
		report(tagName(i), external.Counts{
			LiveBytes:      int64(s.live_bytes),
			LiveCount:      int64(s.live_count),
			PeakBytes:      int64(s.peak_bytes),
			AllocatedBytes: int64(s.alloc_bytes),
			AllocatedCount: int64(s.alloc_count),
			FreedBytes:     int64(s.freed_bytes),
			FreedCount:     int64(s.freed_count),
		})
	}
}
