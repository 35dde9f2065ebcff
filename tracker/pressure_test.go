package tracker_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/membridge/membridge/internal/testkit"
	"github.com/membridge/membridge/tracker"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestReserveContextWaitsForRelease(t *testing.T) {
	defer tracker.VerifyNone(t)
	const tag = "pressure-wait"
	tracker.SetTagLimit(tag, 100)
	defer tracker.SetTagLimit(tag, 0)

	held, err := tracker.Reserve(tracker.KindCHeap, -1, tag, 80, 0)
	require.NoError(t, err)
	held.Commit(0x1000, nil)

	before := tracker.Pressure()
	go func() {
		// Release only once the reservation below is waiting, so the test
		// does not depend on how long the relief before the wait takes.
		testkit.Until(func() bool { return tracker.Pressure().LimitWaits != before.LimitWaits }, nil)
		held.Release()
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r, err := tracker.ReserveContext(ctx, tracker.KindCHeap, -1, tag, 50, 0)
	require.NoError(t, err, "ReserveContext")
	r.Commit(0x2000, nil)
	r.Release()
	after := tracker.Pressure()
	assert.Equal(t, before.LimitWaits+1, after.LimitWaits, "LimitWaits: want one more")
	if after.Reliefs <= before.Reliefs {
		t.Errorf("no relief counted before waiting: %+v -> %+v", before, after)
	}
}

func TestReserveContextGivesUp(t *testing.T) {
	defer tracker.VerifyNone(t)
	const tag = "pressure-timeout"
	tracker.SetTagLimit(tag, 100)
	defer tracker.SetTagLimit(tag, 0)
	held, err := tracker.Reserve(tracker.KindCHeap, -1, tag, 80, 0)
	require.NoError(t, err)
	held.Commit(0x1000, nil)
	defer held.Release()

	before := tracker.Pressure()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	_, err = tracker.ReserveContext(ctx, tracker.KindCHeap, -1, tag, 50, 0)
	if !errors.Is(err, tracker.ErrLimit) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want ErrLimit and DeadlineExceeded", err)
	}
	assert.EqualValues(t, 1, tracker.Pressure().LimitWaitTimeouts-before.LimitWaitTimeouts, "LimitWaitTimeouts growth")
	// Larger than the limit itself: no wait.
	ctx2, cancel2 := context.WithTimeout(context.Background(), time.Hour)
	defer cancel2()
	start := time.Now()
	if _, err := tracker.ReserveContext(ctx2, tracker.KindCHeap, -1, tag, 101, 0); !errors.Is(err, tracker.ErrLimit) || time.Since(start) > time.Minute {
		t.Fatalf("err = %v after %v, want ErrLimit at once", err, time.Since(start))
	}
	// Without a deadline there is nothing to wait for: ErrLimit at once.
	if _, err := tracker.ReserveContext(context.Background(), tracker.KindCHeap, -1, tag, 50, 0); !errors.Is(err, tracker.ErrLimit) {
		t.Fatalf("err = %v, want ErrLimit", err)
	}
}

func TestRelieveRunsReliefsInOrder(t *testing.T) {
	var order []string
	un1 := tracker.RegisterRelief("first", func(need int64) int64 { order = append(order, "first"); return 10 })
	un2 := tracker.RegisterRelief("second", func(need int64) int64 { order = append(order, "second"); return need })
	defer un1()
	defer un2()

	before := tracker.Pressure()
	assert.EqualValues(t, 30, tracker.Relieve(30), "Relieve(30): 10 + the 20 still needed")
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
	// The time passing is what is tested: a sleep is never shorter than
	// asked, so the quiet time of an earlier fruitless collection is over.
	time.Sleep(20 * time.Millisecond)
	tracker.Relieve(30)
	assert.Len(t, order, 1, "reliefs run after unregister")
	if tracker.Pressure().GCRuns == after.GCRuns {
		t.Error("Relieve fell short of need but ran no garbage collection")
	}
}

// A fruitless collection is followed by a quiet time of 10 ms in which
// Relieve collects no more. On a loaded machine the second of two calls in
// a row can start after the quiet time (the thread was preempted, or the
// first collection freed something of another test's): an attempt only
// counts when the second call was skipped, and one in twenty must be.
func TestRelieveSkipsFruitlessCollections(t *testing.T) {
	var after tracker.PressureStats
	skipped := false
	for attempt := 0; attempt < 20 && !skipped; attempt++ {
		before := tracker.Pressure()
		// Nothing to free: collects once, when the quiet time of an
		// earlier collection is over.
		testkit.Eventually(t, func(c *assert.CollectT) {
			tracker.Relieve(1 << 40)
			assert.Greater(c, tracker.Pressure().GCRuns, before.GCRuns, "collections")
		})
		mid := tracker.Pressure()
		tracker.Relieve(1 << 40) // at once again: skipped
		after = tracker.Pressure()
		skipped = after.GCRuns == mid.GCRuns && after.GCSkips == mid.GCSkips+1
	}
	require.True(t, skipped, "a fruitless relief right after a fruitless collection collected again, 20 times")
	// The time passing is what is tested: a sleep is never shorter than
	// asked, so the quiet time is over and Relieve collects again.
	time.Sleep(20 * time.Millisecond)
	tracker.Relieve(1 << 40)
	assert.Equal(t, after.GCRuns+1, tracker.Pressure().GCRuns, "collections after the quiet time")
}

func TestCachesRegistry(t *testing.T) {
	un := tracker.RegisterCache("zz-test", func() tracker.CacheStats { return tracker.CacheStats{Hits: 3, Bytes: 7} })
	found := false
	for _, c := range tracker.Caches() {
		if c.Name == "zz-test" {
			found = c.Hits == 3 && c.Bytes == 7
		}
	}
	assert.True(t, found, "registered cache missing from Caches()")
	un()
	for _, c := range tracker.Caches() {
		if c.Name == "zz-test" {
			t.Error("unregistered cache still listed")
		}
	}
}
