package tracker_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/membridge/membridge/tracker"
	"github.com/membridge/membridge/tracker/leaktest"
)

func TestAllocateWithContextWaitsForRelease(t *testing.T) {
	defer leaktest.VerifyNone(t)
	const tag = "pressure-wait"
	tracker.SetTagLimit(tag, 100)
	defer tracker.SetTagLimit(tag, 0)

	held, err := tracker.AllocateUnwatched(tracker.Request{Kind: kindCHeap, Device: -1, Tag: tag, Bytes: 80}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}

	before := tracker.Pressure()
	go func() {
		// Release only once the reservation below is waiting, so the test
		// does not depend on how long the relief before the wait takes.
		for tracker.Pressure().LimitWaits == before.LimitWaits {
			time.Sleep(time.Millisecond)
		}
		held.Release()
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r, err := tracker.AllocateUnwatched(tracker.Request{Kind: kindCHeap, Device: -1, Tag: tag, Bytes: 50, Context: ctx}, func() (uintptr, error) { return 0, nil }, nil)
	if err != nil {
		t.Fatalf("Allocate with a context: %v", err)
	}
	r.Release()
	after := tracker.Pressure()
	if after.LimitWaits != before.LimitWaits+1 {
		t.Errorf("LimitWaits went from %d to %d, want one more", before.LimitWaits, after.LimitWaits)
	}
	if after.Reliefs <= before.Reliefs {
		t.Errorf("no relief counted before waiting: %+v -> %+v", before, after)
	}
}

func TestAllocateWithContextGivesUp(t *testing.T) {
	defer leaktest.VerifyNone(t)
	const tag = "pressure-timeout"
	tracker.SetTagLimit(tag, 100)
	defer tracker.SetTagLimit(tag, 0)
	held, err := tracker.AllocateUnwatched(tracker.Request{Kind: kindCHeap, Device: -1, Tag: tag, Bytes: 80}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Release()

	before := tracker.Pressure()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	_, err = tracker.AllocateUnwatched(tracker.Request{Kind: kindCHeap, Device: -1, Tag: tag, Bytes: 50, Context: ctx}, func() (uintptr, error) { return 0, nil }, nil)
	if !errors.Is(err, tracker.ErrLimit) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want ErrLimit and DeadlineExceeded", err)
	}
	if got := tracker.Pressure().LimitWaitTimeouts - before.LimitWaitTimeouts; got != 1 {
		t.Errorf("LimitWaitTimeouts grew by %d, want 1", got)
	}
	// Larger than the limit itself: no wait.
	ctx2, cancel2 := context.WithTimeout(context.Background(), time.Hour)
	defer cancel2()
	start := time.Now()
	if _, err := tracker.AllocateUnwatched(tracker.Request{Kind: kindCHeap, Device: -1, Tag: tag, Bytes: 101, Context: ctx2}, func() (uintptr, error) { return 0, nil }, nil); !errors.Is(err, tracker.ErrLimit) || time.Since(start) > time.Minute {
		t.Fatalf("err = %v after %v, want ErrLimit at once", err, time.Since(start))
	}
	// Without a deadline there is nothing to wait for: ErrLimit at once.
	if _, err := tracker.AllocateUnwatched(tracker.Request{Kind: kindCHeap, Device: -1, Tag: tag, Bytes: 50, Context: context.Background()}, func() (uintptr, error) { return 0, nil }, nil); !errors.Is(err, tracker.ErrLimit) {
		t.Fatalf("err = %v, want ErrLimit", err)
	}
}

func TestRelieveRunsReliefsInOrder(t *testing.T) {
	var order []string
	un1 := tracker.RegisterRelief("first", func(tracker.Shortage) int64 { order = append(order, "first"); return 10 })
	un2 := tracker.RegisterRelief("second", func(s tracker.Shortage) int64 { order = append(order, "second"); return s.Bytes })
	defer un1()
	defer un2()

	before := tracker.Pressure()
	if freed := tracker.Relieve(tracker.Shortage{Bytes: 30}); freed != 30 {
		t.Errorf("Relieve(30) = %d, want 30 (10 + the 20 still needed)", freed)
	}
	if len(order) != 2 || order[0] != "first" || order[1] != "second" {
		t.Errorf("reliefs ran as %v, want [first second]", order)
	}
	after := tracker.Pressure()
	if after.ReliefBytes-before.ReliefBytes != 30 || after.GCRuns != before.GCRuns {
		t.Errorf("counted %+v -> %+v: want 30 relief bytes and no GC (the reliefs sufficed)", before, after)
	}

	un2()
	un2() // idempotent
	order = nil
	time.Sleep(20 * time.Millisecond) // past the quiet time of an earlier fruitless collection
	tracker.Relieve(tracker.Shortage{Bytes: 30})
	if len(order) != 1 {
		t.Errorf("after unregister, reliefs ran as %v, want [first]", order)
	}
	if tracker.Pressure().GCRuns == after.GCRuns {
		t.Error("Relieve fell short of need but ran no garbage collection")
	}
}

func TestRelieveSkipsFruitlessCollections(t *testing.T) {
	time.Sleep(20 * time.Millisecond)
	before := tracker.Pressure()
	tracker.Relieve(tracker.Shortage{Bytes: 1 << 40}) // nothing to free: collects once
	tracker.Relieve(tracker.Shortage{Bytes: 1 << 40}) // at once again: skipped
	after := tracker.Pressure()
	if after.GCRuns-before.GCRuns != 1 || after.GCSkips-before.GCSkips != 1 {
		t.Errorf("two fruitless reliefs in a row: %d collections, %d skips; want 1 and 1",
			after.GCRuns-before.GCRuns, after.GCSkips-before.GCSkips)
	}
	time.Sleep(20 * time.Millisecond)
	tracker.Relieve(tracker.Shortage{Bytes: 1 << 40})
	if tracker.Pressure().GCRuns != after.GCRuns+1 {
		t.Error("no collection after the quiet time")
	}
}
