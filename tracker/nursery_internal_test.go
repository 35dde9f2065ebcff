package tracker

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/membridge/membridge/internal/testkit"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// nurseryHandle stands for an owner's handle.
type nurseryHandle struct {
	r *Record
	_ [32]byte
}

// nurseryAlloc makes a watched record of n bytes; reclaimed counts the
// bytes the safety net gives back.
func nurseryAlloc(t *testing.T, tag string, n int64, reclaimed *atomic.Int64) *nurseryHandle {
	t.Helper()
	r, err := Reserve(KindCHeap, -1, tag, n, 0)
	require.NoError(t, err)
	h := &nurseryHandle{r: r}
	CommitWatched(h, r, 0x1000, ReclaimFunc(func(r *Record) { reclaimed.Add(r.Bytes()) }))
	return h
}

// withDropsHeard runs f with the LeakFree policy and returns a function
// that waits (up to testkit.Patience, collecting with GC) until want drops
// were heard, and returns those heard.
func withDropsHeard(t *testing.T) (wait func(want int) []*Record) {
	prev := SetLeakPolicy(LeakFree)
	var mu sync.Mutex
	var heard []*Record
	SetLeakHandler(func(r *Record) { mu.Lock(); heard = append(heard, r); mu.Unlock() })
	t.Cleanup(func() { SetLeakHandler(nil); SetLeakPolicy(prev) })
	return func(want int) []*Record {
		var got []*Record
		testkit.Until(func() bool {
			mu.Lock()
			defer mu.Unlock()
			got = append([]*Record(nil), heard...)
			return len(got) >= want
		}, GC)
		return got
	}
}

// A handle freed while in the nursery never gets a runtime cleanup; one
// that outlives a promotion gets one, and its Free stops it.
func TestNurseryArmsOnlyWhatOutlivesIt(t *testing.T) {
	var reclaimed atomic.Int64
	tag := testkit.UniqueTag(t)
	short := nurseryAlloc(t, tag, 8, &reclaimed)
	require.True(t, short.r.Release(), "Release of a live record failed")
	long := nurseryAlloc(t, tag, 16, &reclaimed)
	armNursery()
	require.Nil(t, short.r.net.Load(), "a record freed before promotion got a cleanup")
	if long.r.net.Load() == nil {
		t.Fatal("a live record was not armed by the promotion")
	}
	long.r.Release()
	require.Nil(t, long.r.net.Load(), "Release left the cleanup armed")
	require.EqualValues(t, 0, reclaimed.Load(), "bytes the safety net reclaimed")
}

// A shard promotes itself when its nursery fills, without a collection.
func TestNurseryPromotesAFullShard(t *testing.T) {
	var reclaimed atomic.Int64
	tag := testkit.UniqueTag(t)
	var hs []*nurseryHandle
	for range nurseryBatch * len(live.shards) {
		hs = append(hs, nurseryAlloc(t, tag, 1, &reclaimed))
	}
	armed := 0
	for _, h := range hs {
		if h.r.net.Load() != nil {
			armed++
		}
	}
	for _, h := range hs {
		h.r.Release()
	}
	// Ids are consecutive, so every shard filled at least once.
	if armed < len(hs)/2 {
		t.Fatalf("%d of %d handles armed after every shard filled", armed, len(hs))
	}
}

// A handle dropped in the nursery is found by one GC.
func TestDroppedInTheNurseryIsFound(t *testing.T) {
	wait := withDropsHeard(t)
	var reclaimed atomic.Int64
	tag := testkit.UniqueTag(t)
	func() { nurseryAlloc(t, tag, 100, &reclaimed) }()
	heard := wait(1)
	if len(heard) != 1 || heard[0].Tag() != tag || reclaimed.Load() != 100 {
		t.Fatalf("heard %d drops, reclaimed %d bytes; want 1 drop of tag %q, 100 bytes", len(heard), reclaimed.Load(), tag)
	}
}

// After a move only the new handle's drop counts, whether the old handle
// was armed (promoted) or still in the nursery when it moved.
func TestMovedHandleDropCountsOnce(t *testing.T) {
	for _, armedFirst := range []bool{false, true} {
		t.Run(fmt.Sprintf("armed=%v", armedFirst), func(t *testing.T) {
			wait := withDropsHeard(t)
			var reclaimed atomic.Int64
			tag := testkit.UniqueTag(t)
			old := nurseryAlloc(t, tag, 64, &reclaimed)
			// The probe is made and dropped with the old handle, in the
			// same state (nursery or armed): once the safety net has
			// found the probe, it has had the collection in which it
			// would have found the old handle too.
			probe := nurseryAlloc(t, tag, 8, &reclaimed)
			if armedFirst {
				armNursery()
			}
			moved := &nurseryHandle{r: old.r}
			Watch(moved, old.r)
			_ = probe
			old, probe = nil, nil
			// The old handle is unreachable now: its drop must not count.
			if heard := wait(1); len(heard) != 1 || reclaimed.Load() != 8 || !moved.r.Live() {
				t.Fatalf("heard %d drops, reclaimed %d bytes (record live: %v); want only the probe's 8", len(heard), reclaimed.Load(), moved.r.Live())
			}
			r := moved.r
			moved = nil
			if heard := wait(2); len(heard) != 2 || heard[1] != r || reclaimed.Load() != 8+64 {
				t.Fatalf("heard %d drops, reclaimed %d bytes; want the probe's 8 and the moved-to handle's 64", len(heard), reclaimed.Load())
			}
		})
	}
}

// Frees, moves and promotions at once: every record ends freed or
// reclaimed exactly once (run with -race).
func TestNurseryConcurrentFreesMovesAndPromotions(t *testing.T) {
	wait := withDropsHeard(t)
	var reclaimed atomic.Int64
	tag := testkit.UniqueTag(t)
	stop := make(chan struct{})
	var promoters sync.WaitGroup
	promoters.Add(1)
	go func() {
		defer promoters.Done()
		for {
			select {
			case <-stop:
				return
			default:
				armNursery()
			}
		}
	}()
	var wg sync.WaitGroup
	var dropped atomic.Int64
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 2000 {
				h := nurseryAlloc(t, tag, 1, &reclaimed)
				if i%3 == 0 {
					nh := &nurseryHandle{r: h.r}
					Watch(nh, h.r)
					h = nh
				}
				if (i+g)%97 == 0 {
					dropped.Add(1)
					continue // drop it
				}
				assert.True(t, h.r.Release(), "Release of a live record failed")
			}
		}()
	}
	wg.Wait()
	close(stop)
	promoters.Wait()
	heard := wait(int(dropped.Load()))
	if int64(len(heard)) != dropped.Load() || reclaimed.Load() != dropped.Load() {
		t.Fatalf("heard %d drops, reclaimed %d bytes; %d handles were dropped", len(heard), reclaimed.Load(), dropped.Load())
	}
	if s := TagStats(tag); s.LiveCount != 0 || s.DroppedCount != dropped.Load() {
		t.Fatalf("tag stats after the run: %+v", s)
	}
}
