package recycle_test

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/membridge/membridge/internal/recordof"
	"github.com/membridge/membridge/internal/recycletest"
	"github.com/membridge/membridge/internal/testkit"
	"github.com/membridge/membridge/native"
	"github.com/membridge/membridge/tracker"
	"github.com/membridge/membridge/tracker/leaktest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The test mode's leak check at the end, with records as production makes
// them. The tests here do not run in parallel (VerifyNone blames all).
func TestMain(m *testing.M) {
	leaktest.VerifyTestMain(m, leaktest.WithoutAttribution())
}

// buffers is native.Buffer's side of recycletest.ReusedPair.
var buffers = recycletest.Owner[*native.Buffer]{
	Alloc:  func(tag string, n int) (*native.Buffer, error) { return native.Alloc(tag, n) },
	Free:   func(b *native.Buffer) error { return b.Free() },
	Record: recordof.Of[*native.Buffer],
}

// A handle whose record went to another allocation still answers for its
// own allocation: its tag, ErrFreed on a second Free, a panic on use, and
// it cannot end the new owner's record.
func TestStaleHandleOfARecycledRecord(t *testing.T) {
	recycletest.Production(t, 0)
	tagA, tagB := testkit.UniqueTag(t, "a"), testkit.UniqueTag(t, "b")
	a, b := recycletest.ReusedPair(t, buffers, tagA, tagB)
	if a.Tag() != tagA || b.Tag() != tagB {
		t.Fatalf("tags %q and %q, want %q and %q", a.Tag(), b.Tag(), tagA, tagB)
	}
	err := a.Free()
	if !errors.Is(err, native.ErrFreed) || !strings.Contains(err.Error(), tagA) || strings.Contains(err.Error(), tagB) {
		t.Fatalf("second Free of the stale handle: %v", err)
	}
	func() {
		defer func() {
			if p := fmt.Sprint(recover()); !strings.Contains(p, "freed") || !strings.Contains(p, tagA) {
				t.Fatalf("Bytes of the stale handle: panic %q", p)
			}
		}()
		a.Bytes()
	}()
	if !b.Snapshot().Live || b.Len() != 32 {
		t.Fatal("the new owner's record was disturbed by the stale handle")
	}
	copy(b.Bytes(), "still mine")
	require.NoError(t, b.Free())
	if s := tracker.TagStats(tagB); s.LiveCount != 0 || s.FreedCount != s.AllocatedCount {
		t.Fatalf("new owner's tag after its Free: %+v", s)
	}
}

// A record kept by a sampled stack is never reused: its use-after-free
// message keeps naming where it was allocated.
func TestSampledRecordIsNotRecycled(t *testing.T) {
	recycletest.Production(t, 1)
	a, err := native.Alloc(testkit.UniqueTag(t, "a"), 64)
	require.NoError(t, err)
	ra := recordof.Of(a)
	a.Free()
	recycletest.Production(t, 0)
	for range 100 {
		b, err := native.Alloc(testkit.UniqueTag(t, "b"), 64)
		require.NoError(t, err)
		if recordof.Of(b) == ra {
			t.Fatal("a record with a stack was reused")
		}
		b.Free()
	}
	//membridge:ignore doublefree the test checks that a Free through a stale handle names the allocation site
	if err := a.Free(); !strings.Contains(err.Error(), "allocated at") || !strings.Contains(err.Error(), "TestSampledRecordIsNotRecycled") {
		t.Fatalf("use-after-free message without the allocation site: %v", err)
	}
}

// A snapshot is a value: once the record is reused, it keeps saying what
// was live when it was taken.
func TestSnapshotOutlivesRecycling(t *testing.T) {
	recycletest.Production(t, 0)
	tagA := testkit.UniqueTag(t, "a")
	a, err := native.Alloc(tagA, 100)
	require.NoError(t, err)
	var snap tracker.Snapshot
	for _, r := range tracker.LiveSnapshots() {
		if r.Tag == tagA {
			snap = r
		}
	}
	if snap.ID != recordof.Of(a).ID() || snap.ID != a.Snapshot().ID || snap.Addr != uintptr(a.Ptr()) {
		t.Fatalf("LiveSnapshots gave %+v for the buffer, whose own is %+v", snap, a.Snapshot())
	}
	a.Free()
	for range 100 { // let the record be reused
		b, _ := native.Alloc(testkit.UniqueTag(t, "b"), 7)
		b.Free()
	}
	if snap.Tag != tagA || snap.Bytes != 100 || !snap.Live {
		t.Fatalf("snapshot changed: %+v", snap)
	}
}

// Allocations, frees, moves, drops, reports and collections at once, with
// records reused throughout (run with -race): every buffer ends freed or
// reclaimed once, and the counters add up.
func TestRecyclingUnderChurn(t *testing.T) {
	recycletest.Production(t, 0)
	dropsHeard := recycletest.HearDrops(t)
	tg := testkit.UniqueTag(t, "churn")
	stop := recycletest.Beside()
	var wg sync.WaitGroup
	var dropped atomic.Int64
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 3000 {
				//membridge:ignore leak the churn drops some buffers on purpose for the safety net, and counts them
				b, err := native.Alloc(tg, 16+i%64)
				if err != nil {
					t.Error(err)
					return
				}
				if i%5 == 0 {
					//membridge:ignore leak the churn drops some moved buffers on purpose for the safety net, and counts them
					if b, err = b.Move(); err != nil {
						t.Error(err)
						return
					}
				}
				if (i+g)%211 == 0 {
					dropped.Add(1)
					continue
				}
				assert.NoError(t, b.Free())
			}
		}()
	}
	wg.Wait()
	stop()
	recycletest.WaitDrops(dropsHeard, dropped.Load())
	s := tracker.TagStats(tg)
	if dropsHeard.Load() != dropped.Load() || s.DroppedCount != dropped.Load() || s.LiveCount != 0 || s.AllocatedCount != 12000 || s.FreedCount != 12000 {
		t.Fatalf("heard %d drops of %d; stats %+v", dropsHeard.Load(), dropped.Load(), s)
	}
}
