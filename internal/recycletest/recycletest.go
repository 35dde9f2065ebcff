// Package recycletest holds what the tests of reused ledger records
// (native/internal/recycle, cuda/internal/recycle) share: records as
// production makes them, finding a freed handle whose record went to a
// later allocation, and readers and collections to run beside a churn.
package recycletest

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/membridge/membridge/internal/testkit"
	"github.com/membridge/membridge/tracker"
)

// Production sets the ledger's stack rate for the rest of t (0: no stacks,
// so freed records are reused; 1: every record keeps a stack).
func Production(t testing.TB, rate int64) {
	prev := tracker.SetStackRate(rate)
	t.Cleanup(func() { tracker.SetStackRate(prev) })
}

// An Owner allocates and frees the handles of one kind for ReusedPair.
type Owner[H any] struct {
	Alloc  func(tag string, n int) (H, error)
	Free   func(H) error
	Record func(H) *tracker.Record
}

// ReusedPair allocates a handle under tagA, frees it, and allocates others
// under tagB until one gets the freed handle's record (a sync.Pool may drop
// it at a collection, so it tries a few times). It returns the stale handle
// and the live one that holds its record now.
func ReusedPair[H any](t testing.TB, o Owner[H], tagA, tagB string) (stale, fresh H) {
	t.Helper()
	for range 1000 {
		a, err := o.Alloc(tagA, 64)
		if err != nil {
			t.Fatal(err)
		}
		ra := o.Record(a)
		if err := o.Free(a); err != nil {
			t.Fatal(err)
		}
		b, err := o.Alloc(tagB, 32)
		if err != nil {
			t.Fatal(err)
		}
		if o.Record(b) == ra {
			return a, b
		}
		if err := o.Free(b); err != nil {
			t.Fatal(err)
		}
	}
	t.Fatal("a freed handle's record was never reused")
	return stale, fresh
}

// Beside runs, until the returned stop is called, what reads records while
// they are reused: snapshots read field by field, and collections that run
// the safety net. stop waits for it to end.
func Beside() (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-done:
				return
			default:
			}
			for _, r := range tracker.LiveSnapshots() {
				_ = r.Tag + fmt.Sprint(r.Bytes, r.Age(), r.Live)
			}
			tracker.GC()
		}
	}()
	return func() {
		close(done)
		wg.Wait()
	}
}

// HearDrops makes the safety net free what it finds dropped (LeakFree) and
// count it, for the rest of t, and returns the count.
func HearDrops(t testing.TB) *atomic.Int64 {
	heard := new(atomic.Int64)
	prev := tracker.SetLeakPolicy(tracker.LeakFree)
	tracker.SetLeakHandler(func(*tracker.Record) { heard.Add(1) })
	t.Cleanup(func() {
		tracker.SetLeakHandler(nil)
		tracker.SetLeakPolicy(prev)
	})
	return heard
}

// WaitDrops collects until heard reaches want, for at most
// testkit.Patience; the caller checks the count.
func WaitDrops(heard *atomic.Int64, want int64) {
	testkit.Until(func() bool { return heard.Load() >= want }, tracker.GC)
}
