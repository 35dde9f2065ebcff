package tracker

import (
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/membridge/membridge/internal/testkit"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// onManyPs runs fn on g goroutines at once, each given its index; with
// GOMAXPROCS >= 2 they run on several P's, so records land in several
// slots.
func onManyPs(g int, fn func(i int)) {
	var wg sync.WaitGroup
	for i := range g {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn(i)
		}()
	}
	wg.Wait()
}

func reserveN(t *testing.T, tag string, n int64) *Record {
	r, err := AllocateUnwatched(Request{Kind: kindCHeap, Device: -1, Tag: tag, Bytes: n}, nil, nil)
	require.NoError(t, err)
	return r
}

// The counters are per slot, and a read adds them up: what many P's
// allocated and freed reads back exactly.
func TestStatsAddUpAcrossSlots(t *testing.T) {
	tag := testkit.UniqueTag(t)
	held := make([][]*Record, 8)
	onManyPs(8, func(i int) {
		for j := range 500 {
			r, err := AllocateUnwatched(Request{Kind: kindCHeap, Device: -1, Tag: tag, Bytes: int64(j%7 + 1)}, nil, nil)
			if !assert.NoError(t, err) {
				return
			}
			if j%2 == 0 {
				assert.True(t, r.Retire())
				continue
			}
			held[i] = append(held[i], r)
			runtime.Gosched() // move between P's now and then
		}
	})
	var want, count int64
	for _, rs := range held {
		for _, r := range rs {
			want += r.Bytes()
			count++
		}
	}
	s := TagStats(tag)
	assert.Equal(t, want, s.LiveBytes)
	assert.Equal(t, count, s.LiveCount)
	assert.Equal(t, int64(8*500), s.AllocatedCount)
	assert.Equal(t, int64(8*250), s.FreedCount)
	for _, rs := range held {
		for _, r := range rs {
			require.True(t, r.Release())
		}
	}
	s = TagStats(tag)
	assert.Zero(t, s.LiveBytes)
	assert.Zero(t, s.LiveCount)
	assert.Equal(t, s.AllocatedBytes, s.FreedBytes)
}

// Record ids carry their slot in their low bits and are unique however
// many P's take them.
func TestRecordIDsAreUniqueAcrossSlots(t *testing.T) {
	tag := testkit.UniqueTag(t)
	ids := make([][]uint64, 8)
	onManyPs(8, func(i int) {
		for range 2000 {
			r := reserveN(t, tag, 1)
			ids[i] = append(ids[i], r.ID())
			assert.Same(t, live.shard(r), &live.shards[r.ID()%liveSlots])
			r.Retire()
		}
	})
	seen := map[uint64]bool{}
	for _, s := range ids {
		for _, id := range s {
			require.False(t, seen[id], "id %d given twice", id)
			seen[id] = true
		}
	}
}

// The first limit on a tag makes its total shared, with every byte the
// slots counted on their own moved into it: the limit then refuses what
// would pass it, counting memory reserved before it was set, and what is
// freed afterwards gives room back exactly.
func TestFirstLimitCountsEveryByte(t *testing.T) {
	tag := testkit.UniqueTag(t)
	held := make([][]*Record, 4)
	onManyPs(4, func(i int) {
		for range 100 {
			held[i] = append(held[i], reserveN(t, tag, 10))
			runtime.Gosched()
		}
	})
	te, ok := tagCounters.Load(tag)
	require.True(t, ok)
	tc := te.(*tagEntry)
	assert.Zero(t, tc.liveBytes.Load(), "no limit yet: the slots count on their own")

	SetTagLimit(tag, 4000+50)
	defer SetTagLimit(tag, 0)
	assert.Equal(t, int64(4000), tc.liveBytes.Load(), "SetTagLimit moved every slot's bytes into the shared total")
	assert.Equal(t, ^uint64(0), tc.drained.Load())
	_, err := AllocateUnwatched(Request{Kind: kindCHeap, Device: -1, Tag: tag, Bytes: 51}, nil, nil)
	require.ErrorIs(t, err, ErrLimit)
	r := reserveN(t, tag, 50)
	for _, rs := range held {
		for _, h := range rs {
			require.True(t, h.Retire())
		}
	}
	assert.Equal(t, int64(50), tc.liveBytes.Load(), "frees on every slot gave their bytes back to the shared total")
	require.True(t, r.Release())
	assert.Zero(t, tc.liveBytes.Load())
	assert.Zero(t, TagStats(tag).LiveBytes)
	// Removing the limit keeps the total shared: it stays exact.
	SetTagLimit(tag, 0)
	reserveN(t, tag, 7).Release()
	assert.Zero(t, tc.liveBytes.Load())
}

// A limit set while many P's allocate and free under the tag: once
// SetTagLimit has returned, the live bytes never pass it, and when all is
// freed the shared total is back to zero (no byte counted on one side
// and given back on the other).
func TestLimitSetWhileAllocating(t *testing.T) {
	tag := testkit.UniqueTag(t)
	const limit = 64 << 10
	var limited atomic.Bool
	var over atomic.Int64
	onManyPs(8, func(i int) {
		if i == 0 {
			for range 50 {
				runtime.Gosched()
			}
			SetTagLimit(tag, limit)
			limited.Store(true)
			return
		}
		var held []*Record
		for j := range 3000 {
			r, err := AllocateUnwatched(Request{Kind: kindCHeap, Device: -1, Tag: tag, Bytes: 1 << 10}, nil, nil)
			switch {
			case err == nil:
				held = append(held, r)
			case !errors.Is(err, ErrLimit):
				t.Error(err)
				return
			}
			if limited.Load() {
				if l := TagStats(tag).LiveBytes; l > limit {
					over.Store(l)
				}
			}
			if len(held) > 4 || j%3 == 0 {
				for _, h := range held {
					h.Retire()
				}
				held = held[:0]
			}
		}
		for _, h := range held {
			h.Retire()
		}
	})
	defer SetTagLimit(tag, 0)
	assert.Zero(t, over.Load(), "live bytes passed the limit after it was set")
	te, _ := tagCounters.Load(tag)
	assert.Zero(t, te.(*tagEntry).liveBytes.Load())
	assert.Zero(t, TagStats(tag).LiveBytes)
}

// A reservation still being allocated is in its slot, but readers do not
// see it until it is committed.
func TestReservedRecordsAreNotListed(t *testing.T) {
	tag := testkit.UniqueTag(t)
	seen := false
	r, err := AllocateUnwatched(Request{Kind: kindCHeap, Device: -1, Tag: tag, Bytes: 3}, func() (uintptr, error) {
		LiveRecords(func(x *Record) bool {
			seen = seen || x.Tag() == tag
			return true
		})
		return 0x1000, nil
	}, nil)
	require.NoError(t, err)
	defer r.Release()
	assert.False(t, seen)
	found := false
	LiveRecords(func(x *Record) bool {
		found = found || x == r
		return true
	})
	assert.True(t, found)
}
