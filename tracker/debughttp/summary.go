package debughttp

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/membridge/membridge/cache"
	"github.com/membridge/membridge/tracker"
	"github.com/membridge/membridge/tracker/history"
	"github.com/membridge/membridge/tracker/sitereport"
)

// usage is one row of the index: a kind, a tag or a device.
type usage struct {
	Name                       string
	Device                     int
	LiveBytes, LiveCount       int64
	PeakBytes                  int64
	DroppedCount, DroppedBytes int64
	Limit                      int64 // 0: none
}

// Headroom is what the limit leaves, negative when live bytes are over it
// (a limit set below what was already live).
func (u usage) Headroom() int64 { return u.Limit - u.LiveBytes }

// Tenth is a tenth of the limit: less headroom than that is shown as a warning.
func (u usage) Tenth() int64 { return u.Limit / 10 }

// Used is the share of the limit that is live.
func (u usage) Used() string {
	if u.Limit <= 0 {
		return ""
	}
	return fmt.Sprintf("%.0f%%", 100*float64(u.LiveBytes)/float64(u.Limit))
}

// summary is what the index shows.
type summary struct {
	Time                       string
	LiveBytes, LiveCount       int64
	DroppedCount, DroppedBytes int64
	StackRate                  int64
	HistoryOn                  bool
	Top                        int
	Kinds, Tags, Devices       []usage
	TagsKept, MaxTags          int   // tags the ledger keeps, and its cap (0: none)
	TagsOverflowed             int64 // tags counted under tracker.OverflowTag
	OverflowTag                string
	Pressure                   tracker.PressureStats
	Caches                     []cache.Stats
	Cached                     []tracker.Cached // kept for reuse by the allocators, per kind and device
	CachedBytes, CachedBlocks  int64            // their sums
	Sites                      []sitereport.Site
	OtherSites                 int
	OtherBytes                 int64
}

// summarize reads the ledger for the index, keeping the top sites.
func summarize(top int) summary {
	s := summary{
		Time:      time.Now().Format(time.RFC3339),
		StackRate: tracker.StackRate(),
		HistoryOn: history.Enabled(),
		Top:       top,
		Pressure:  tracker.Pressure(),
		Caches:    cache.All(),
		Cached:    tracker.CachedStats(),

		TagsKept:       tracker.TagsKept(),
		MaxTags:        tracker.MaxTags(),
		TagsOverflowed: tracker.TagsOverflowed(),
		OverflowTag:    tracker.OverflowTag,
	}
	for _, k := range tracker.Kinds() {
		ks, limit := tracker.KindStats(k), tracker.Limit(k)
		if ks.AllocatedCount == 0 && ks.LiveCount == 0 && limit == 0 {
			continue
		}
		s.Kinds = append(s.Kinds, usage{Name: k.String(), Device: -1,
			LiveBytes: ks.LiveBytes, LiveCount: ks.LiveCount, PeakBytes: ks.PeakBytes,
			DroppedCount: ks.DroppedCount, DroppedBytes: ks.DroppedBytes, Limit: limit})
		s.LiveBytes += ks.LiveBytes
		s.LiveCount += ks.LiveCount
		s.DroppedCount += ks.DroppedCount
		s.DroppedBytes += ks.DroppedBytes
	}
	for _, c := range s.Cached {
		s.CachedBytes = addSat(s.CachedBytes, c.Bytes)
		s.CachedBlocks = addSat(s.CachedBlocks, c.Blocks)
	}
	tags := map[string]*usage{}
	devices := map[int]*usage{}
	for _, st := range tracker.AllStats() {
		t := tags[st.Tag]
		if t == nil {
			t = &usage{Name: st.Tag, Device: -1, Limit: tracker.TagLimit(st.Tag)}
			tags[st.Tag] = t
		}
		t.LiveBytes += st.LiveBytes
		t.LiveCount += st.LiveCount
		t.DroppedCount += st.DroppedCount
		t.DroppedBytes += st.DroppedBytes
		d := devices[st.Device]
		if d == nil {
			d = &usage{Device: st.Device}
			devices[st.Device] = d
		}
		d.LiveBytes += st.LiveBytes
		d.LiveCount += st.LiveCount
	}
	// Tags that hold nothing, dropped nothing and have no limit are history.
	for _, t := range tags {
		if t.LiveCount > 0 || t.DroppedCount > 0 || t.Limit > 0 {
			s.Tags = append(s.Tags, *t)
		}
	}
	slices.SortFunc(s.Tags, func(a, b usage) int {
		return cmp.Or(cmp.Compare(b.LiveBytes, a.LiveBytes), cmp.Compare(a.Name, b.Name))
	})
	for _, d := range devices {
		s.Devices = append(s.Devices, *d)
	}
	slices.SortFunc(s.Devices, func(a, b usage) int { return cmp.Compare(a.Device, b.Device) })
	rep := sitereport.Take(top)
	s.Sites, s.OtherSites, s.OtherBytes = rep.Sites, rep.OtherSites, rep.OtherBytes
	return s
}

// where names a site by its first frame, the user's call into membridge.
func where(s sitereport.Site) string {
	if len(s.Stack) == 0 {
		return "(no stack captured)"
	}
	f := s.Stack[0]
	return fmt.Sprintf("%s %s:%d", f.Function, f.File, f.Line)
}

// addSat adds non-negative counts, saturating at MaxInt64: what caches
// report is summed on their word.
func addSat(a, b int64) int64 {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}
