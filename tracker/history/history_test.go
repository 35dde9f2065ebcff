package history_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/membridge/membridge/tracker"
	"github.com/membridge/membridge/tracker/history"
	"github.com/membridge/membridge/tracker/internal/ledgertest"
	"github.com/membridge/membridge/tracker/leaktest"
)

func TestMain(m *testing.M) { leaktest.VerifyTestMain(m) }

// The history, scopes and site totals are process-wide; these tests do not
// run in parallel and filter what they see by their own tag.

func eventsTagged(tag string) []history.Event {
	evs, _ := history.Events()
	var out []history.Event
	for _, e := range evs {
		if e.Tag == tag {
			out = append(out, e)
		}
	}
	return out
}

func TestHistoryKeepsEventsInOrderWithLiveBytes(t *testing.T) {
	defer leaktest.VerifyNone(t)
	history.Enable(1024)
	defer history.Disable()
	var o ledgertest.Owner
	tag := t.Name()
	before := tracker.KindStats(ledgertest.KindCHeap).LiveBytes
	a, _ := o.Alloc(tag, 100)
	b, _ := o.Alloc(tag, 50)
	a.Free()
	b.Rec.HandOff()

	tracker.SetTagLimit(tag, 10)
	if _, err := o.Alloc(tag, 11); !errors.Is(err, tracker.ErrLimit) {
		t.Fatalf("alloc over the tag limit: %v", err)
	}
	tracker.SetTagLimit(tag, 0)
	retries := tracker.Pressure().Retries
	_, err := tracker.AllocateUnwatched(tracker.Request{Kind: ledgertest.KindCHeap, Device: -1, Tag: tag, Bytes: 7},
		func() (uintptr, error) { return 0, tracker.ErrOutOfMemory }, nil)
	if !errors.Is(err, tracker.ErrOutOfMemory) {
		t.Fatalf("an allocator out of memory twice: %v", err)
	}
	if got := tracker.Pressure().Retries; got != retries+1 {
		t.Errorf("the failed allocation counted %d retries, want 1", got-retries)
	}

	evs := eventsTagged(tag)
	want := []struct {
		op    history.EventOp
		bytes int64
		live  int64
	}{
		{history.EventAlloc, 100, before + 100},
		{history.EventAlloc, 50, before + 150},
		{history.EventFree, 100, before + 50},
		{history.EventHandOff, 50, before},
		{history.EventLimit, 11, -1},
		{history.EventRetry, 7, before},
		{history.EventAllocFailed, 7, before},
	}
	if len(evs) != len(want) {
		t.Fatalf("got %d events, want %d: %+v", len(evs), len(want), evs)
	}
	for i, w := range want {
		e := evs[i]
		if e.Op != w.op || e.Bytes != w.bytes || (w.live >= 0 && e.LiveBytes != w.live) {
			t.Errorf("event %d: %s %d bytes, live %d; want %s %d bytes, live %d", i, e.Op, e.Bytes, e.LiveBytes, w.op, w.bytes, w.live)
		}
		if i > 0 && (e.Seq <= evs[i-1].Seq || e.At < evs[i-1].At) {
			t.Errorf("event %d is out of order", i)
		}
	}
	if at := evs[0].Time(); at.Before(history.Start()) || time.Since(at) > time.Minute {
		t.Errorf("first event at %v; the ledger started at %v", at, history.Start())
	}
	if evs[0].Stack == nil || evs[0].RecordID == 0 {
		t.Error("alloc event lacks the record's stack or id (tests run with the stack rate at 1)")
	}
}

func TestEventOpNames(t *testing.T) {
	for op, want := range map[history.EventOp]string{
		history.EventAlloc: "alloc", history.EventFree: "free", history.EventHandOff: "hand-off",
		history.EventLeak: "leak", history.EventLimit: "limit", history.EventAllocFailed: "alloc-failed", history.EventRetry: "retry",
		history.EventOp(99): "EventOp(99)",
	} {
		if got := op.String(); got != want {
			t.Errorf("EventOp(%d).String() = %q, want %q", op, got, want)
		}
	}
}

func TestHistoryIsBounded(t *testing.T) {
	defer leaktest.VerifyNone(t)
	history.Enable(16)
	defer history.Disable()
	var o ledgertest.Owner
	for i := range 20 {
		h, _ := o.Alloc(t.Name(), i+1)
		h.Free()
	}
	evs, lost := history.Events()
	if len(evs) != 16 || lost != 24 {
		t.Fatalf("kept %d events and lost %d; want 16 kept, 24 lost", len(evs), lost)
	}
	if last := evs[15]; last.Op != history.EventFree || last.Bytes != 20 {
		t.Fatalf("newest event is %s of %d bytes, want the free of 20", last.Op, last.Bytes)
	}
}

func TestHistoryOffKeepsNothing(t *testing.T) {
	defer leaktest.VerifyNone(t)
	history.Disable()
	var o ledgertest.Owner
	h, _ := o.Alloc(t.Name(), 8)
	h.Free()
	if evs, lost := history.Events(); evs != nil || lost != 0 || history.Enabled() {
		t.Fatalf("history off, yet it has %d events", len(evs))
	}
}

func TestAllocFailedHookGetsTheHistory(t *testing.T) {
	history.Enable(64)
	defer history.Disable()
	var got []history.Event
	history.SetAllocFailedHook(func(h []history.Event) { got = h })
	defer history.SetAllocFailedHook(nil)
	_, err := tracker.AllocateUnwatched(tracker.Request{Kind: ledgertest.KindCHeap, Device: -1, Tag: t.Name(), Bytes: 1 << 40},
		func() (uintptr, error) { return 0, tracker.ErrOutOfMemory }, nil)
	if !errors.Is(err, tracker.ErrOutOfMemory) {
		t.Fatalf("an allocator out of memory: %v", err)
	}
	if len(got) == 0 || got[len(got)-1].Op != history.EventAllocFailed || got[len(got)-1].Bytes != 1<<40 {
		t.Fatalf("hook saw %+v, want a history ending in the failed allocation", got)
	}
}

func TestHistoryRecordsADroppedHandle(t *testing.T) {
	defer tracker.SetLeakPolicy(tracker.SetLeakPolicy(tracker.LeakFree))
	tracker.SetLeakHandler(func(*tracker.Record) {})
	defer tracker.SetLeakHandler(nil)
	history.Enable(64)
	defer history.Disable()
	var o ledgertest.Owner
	tag := t.Name()
	func() { o.Alloc(tag, 64) }()
	for i := 0; i < 50 && o.Reclaimed.Load() == 0; i++ {
		tracker.GC()
	}
	evs := eventsTagged(tag)
	if len(evs) != 2 || evs[1].Op != history.EventLeak || evs[1].LiveBytes != evs[0].LiveBytes-64 {
		t.Fatalf("events %+v, want an alloc then a leak that gave the 64 bytes back", evs)
	}
}

func ExampleEnable() {
	history.Enable(256)
	defer history.Disable()
	var o ledgertest.Owner
	h, _ := o.Alloc("example-history", 64)
	h.Free()
	evs, _ := history.Events()
	for _, e := range evs {
		if e.Tag == "example-history" {
			fmt.Println(e.Op, e.Bytes)
		}
	}
	// Output:
	// alloc 64
	// free 64
}
