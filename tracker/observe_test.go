package tracker_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/membridge/membridge/internal/testkit"
	"github.com/membridge/membridge/tracker"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The history, scopes and site totals are process-wide; these tests do not
// run in parallel and filter what they see by their own tag.

func eventsTagged(tag string) []tracker.Event {
	evs, _ := tracker.History()
	var out []tracker.Event
	for _, e := range evs {
		if e.Tag == tag {
			out = append(out, e)
		}
	}
	return out
}

func TestHistoryKeepsEventsInOrderWithLiveBytes(t *testing.T) {
	defer tracker.VerifyNone(t)
	tracker.EnableHistory(1024)
	defer tracker.DisableHistory()
	var o fakeOwner
	tag := t.Name()
	before := tracker.KindStats(tracker.KindCHeap).LiveBytes
	a, _ := o.alloc(tag, 100)
	b, _ := o.alloc(tag, 50)
	a.free()
	b.rec.HandOff()

	tracker.SetTagLimit(tag, 10)
	if _, err := o.alloc(tag, 11); !errors.Is(err, tracker.ErrLimit) {
		t.Fatalf("alloc over the tag limit: %v", err)
	}
	tracker.SetTagLimit(tag, 0)
	r, err := tracker.Reserve(tracker.KindCHeap, -1, tag, 7, 0)
	require.NoError(t, err)
	retries := tracker.Pressure().Retries
	r.Retried(false)
	r.Cancel()
	if got := tracker.Pressure().Retries; got != retries+1 {
		t.Errorf("Retried counted %d retries, want 1", got-retries)
	}

	evs := eventsTagged(tag)
	want := []struct {
		op    tracker.EventOp
		bytes int64
		live  int64
	}{
		{tracker.EventAlloc, 100, before + 100},
		{tracker.EventAlloc, 50, before + 150},
		{tracker.EventFree, 100, before + 50},
		{tracker.EventHandOff, 50, before},
		{tracker.EventLimit, 11, -1},
		{tracker.EventRetry, 7, before},
		{tracker.EventAllocFailed, 7, before},
	}
	require.Len(t, evs, len(want), "events: %+v", evs)
	for i, w := range want {
		e := evs[i]
		if e.Op != w.op || e.Bytes != w.bytes || (w.live >= 0 && e.LiveBytes != w.live) {
			t.Errorf("event %d: %s %d bytes, live %d; want %s %d bytes, live %d", i, e.Op, e.Bytes, e.LiveBytes, w.op, w.bytes, w.live)
		}
		if i > 0 && (e.Seq <= evs[i-1].Seq || e.At < evs[i-1].At) {
			t.Errorf("event %d is out of order", i)
		}
	}
	if at := evs[0].Time(); at.Before(tracker.LedgerStart()) || time.Since(at) > time.Minute {
		t.Errorf("first event at %v; the ledger started at %v", at, tracker.LedgerStart())
	}
	if evs[0].Stack == nil || evs[0].RecordID == 0 {
		t.Error("alloc event lacks the record's stack or id (tests run with the stack rate at 1)")
	}
}

func TestEventOpNames(t *testing.T) {
	for op, want := range map[tracker.EventOp]string{
		tracker.EventAlloc: "alloc", tracker.EventFree: "free", tracker.EventHandOff: "hand-off",
		tracker.EventLeak: "leak", tracker.EventLimit: "limit", tracker.EventAllocFailed: "alloc-failed", tracker.EventRetry: "retry",
		tracker.EventOp(99): "EventOp(99)",
	} {
		if got := op.String(); got != want {
			t.Errorf("EventOp(%d).String() = %q, want %q", op, got, want)
		}
	}
}

func TestHistoryIsBounded(t *testing.T) {
	defer tracker.VerifyNone(t)
	tracker.EnableHistory(16)
	defer tracker.DisableHistory()
	var o fakeOwner
	for i := range 20 {
		h, _ := o.alloc(t.Name(), i+1)
		h.free()
	}
	evs, lost := tracker.History()
	if len(evs) != 16 || lost != 24 {
		t.Fatalf("kept %d events and lost %d; want 16 kept, 24 lost", len(evs), lost)
	}
	if last := evs[15]; last.Op != tracker.EventFree || last.Bytes != 20 {
		t.Fatalf("newest event is %s of %d bytes, want the free of 20", last.Op, last.Bytes)
	}
}

func TestHistoryOffKeepsNothing(t *testing.T) {
	defer tracker.VerifyNone(t)
	tracker.DisableHistory()
	var o fakeOwner
	h, _ := o.alloc(t.Name(), 8)
	h.free()
	if evs, lost := tracker.History(); evs != nil || lost != 0 || tracker.HistoryEnabled() {
		t.Fatalf("history off, yet it has %d events", len(evs))
	}
}

func TestAllocFailedHookGetsTheHistory(t *testing.T) {
	tracker.EnableHistory(64)
	defer tracker.DisableHistory()
	var got []tracker.Event
	tracker.SetAllocFailedHook(func(h []tracker.Event) { got = h })
	defer tracker.SetAllocFailedHook(nil)
	r, _ := tracker.Reserve(tracker.KindCHeap, -1, t.Name(), 1<<40, 0)
	r.Cancel()
	if len(got) == 0 || got[len(got)-1].Op != tracker.EventAllocFailed || got[len(got)-1].Bytes != 1<<40 {
		t.Fatalf("hook saw %+v, want a history ending in the failed allocation", got)
	}
}

func TestHistoryRecordsADroppedHandle(t *testing.T) {
	defer tracker.SetLeakPolicy(tracker.SetLeakPolicy(tracker.LeakFree))
	tracker.SetLeakHandler(func(*tracker.Record) {})
	defer tracker.SetLeakHandler(nil)
	tracker.EnableHistory(64)
	defer tracker.DisableHistory()
	var o fakeOwner
	tag := t.Name()
	func() { o.alloc(tag, 64) }()
	testkit.Eventually(t, func(c *assert.CollectT) {
		tracker.GC()
		assert.NotZero(c, o.reclaimed.Load(), "bytes the safety net reclaimed")
	})
	evs := eventsTagged(tag)
	if len(evs) != 2 || evs[1].Op != tracker.EventLeak || evs[1].LiveBytes != evs[0].LiveBytes-64 {
		t.Fatalf("events %+v, want an alloc then a leak that gave the 64 bytes back", evs)
	}
}

func TestNestedScopesMeasurePeakAndNet(t *testing.T) {
	defer tracker.VerifyNone(t)
	var o fakeOwner
	outer := tracker.BeginScope("outer")
	a, _ := o.alloc(t.Name(), 1000)
	inner := tracker.BeginScope("inner")
	b, _ := o.alloc(t.Name(), 500)
	if mid := inner.Stats(); mid.NetBytes != 500 || mid.Name != "inner" {
		t.Errorf("inner scope so far: %+v; want 500 net bytes", mid)
	}
	b.free()
	c, _ := o.alloc(t.Name(), 200)
	in := inner.End()
	a.free()
	out := outer.End()
	c.free()

	if in.PeakBytes != 500 || in.NetBytes != 200 || in.AllocatedCount != 2 || in.FreedBytes != 500 {
		t.Errorf("inner: %+v; want peak 500, net 200, 2 allocations, 500 freed", in)
	}
	if out.PeakBytes != 1500 || out.NetBytes != 200 || out.AllocatedBytes != 1700 || out.FreedCount != 2 {
		t.Errorf("outer: %+v; want peak 1500, net 200, 1700 allocated, 2 frees", out)
	}
	if again := outer.End(); again != out {
		t.Errorf("second End: %+v, want %+v", again, out)
	}
}

func TestSiteTotalsCountAllocationsPerStack(t *testing.T) {
	defer tracker.VerifyNone(t)
	tracker.TrackSites(true)
	defer tracker.TrackSites(false)
	var o fakeOwner
	tag := testkit.UniqueTag(t)
	for range 3 {
		h, _ := o.alloc(tag, 10) // one site: one line
		h.free()
	}
	var found []tracker.SiteTotal
	for _, s := range tracker.SiteTotals() {
		if s.Tag == tag {
			found = append(found, s)
		}
	}
	if len(found) != 1 || found[0].Bytes != 30 || found[0].Count != 3 {
		t.Fatalf("site totals %+v, want one site with 30 bytes in 3 allocations", found)
	}
}

func ExampleMeasureScope() {
	var o fakeOwner
	st := tracker.MeasureScope("decode", func() {
		a, _ := o.alloc("frame", 4096)
		b, _ := o.alloc("frame", 1024)
		b.free()
		a.free()
	})
	fmt.Println(st.Name, st.PeakBytes, st.NetBytes)
	// Output: decode 5120 0
}

func ExampleEnableHistory() {
	tracker.EnableHistory(256)
	defer tracker.DisableHistory()
	var o fakeOwner
	h, _ := o.alloc("example-history", 64)
	h.free()
	evs, _ := tracker.History()
	for _, e := range evs {
		if e.Tag == "example-history" {
			fmt.Println(e.Op, e.Bytes)
		}
	}
	// Output:
	// alloc 64
	// free 64
}
