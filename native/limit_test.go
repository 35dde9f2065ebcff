package native

import (
	"context"
	"errors"
	"math"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/membridge/membridge/internal/testkit"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/membridge/membridge/tracker"
	"github.com/membridge/membridge/tracker/leaktest"
)

// An attacker asks for MaxInt bytes over and over under a 1 MiB tag limit
// while another goroutine allocates 4 MiB buffers under it: the huge
// requests must get ErrLimit, and the 4 MiB ones must never be granted
// (the limit cannot be passed by wrapping the running total, nor by the
// moment a refused request would hold its bytes).
func TestLimitHoldsAgainstOverflowingRequests(t *testing.T) {
	tag := testkit.UniqueTag(t)
	tracker.SetTagLimit(tag, 1<<20)
	defer tracker.SetTagLimit(tag, 0)
	one, err := Alloc(tag, 1)
	require.NoError(t, err)
	defer one.Free()

	var stop atomic.Bool
	var huge atomic.Int64
	var wg sync.WaitGroup
	for _, n := range []int{math.MaxInt, math.MaxInt - 1<<20 + 1} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				_, err := Alloc(tag, n)
				if !errors.Is(err, ErrLimit) {
					t.Errorf("Alloc(%d) under a 1 MiB limit: %v, want ErrLimit", n, err)
					return
				}
				huge.Add(1)
			}
		}()
	}
	deadline := time.Now().Add(300 * time.Millisecond)
	granted := 0
	for i := 0; i < 20000 && time.Now().Before(deadline); i++ {
		b, err := Alloc(tag, 4<<20)
		if err == nil {
			granted++
			b.Free()
			continue
		}
		require.ErrorIs(t, err, ErrLimit)
		small, err := Alloc(tag, 1024) // what fits is still granted
		require.NoError(t, err)
		small.Free()
	}
	stop.Store(true)
	wg.Wait()
	require.Zero(t, granted, "4 MiB buffers granted under a 1 MiB limit")
	require.Positive(t, huge.Load())
	s := tracker.TagStats(tag)
	require.Equal(t, int64(1), s.LiveBytes)
	require.LessOrEqual(t, s.PeakBytes, int64(1<<20), "peak over the limit")
}

// Every way into the ledger refuses a hostile size over a limit with
// ErrLimit and the sizes, and leaves the counters as they were.
func TestHostileSizesOverALimit(t *testing.T) {
	sizes := []int{1<<20 + 1, 1 << 40, 1 << 62, math.MaxInt - 1, math.MaxInt}
	paths := []struct {
		name  string
		alloc func(tag string, n int) error
	}{
		//membridge:ignore leak false positive: the alloc is expected to fail with ErrLimit (checked by the caller of the closure, which the analyzer does not follow)
		{"Alloc", func(tag string, n int) error { _, err := Alloc(tag, n); return err }},
		//membridge:ignore leak false positive: the alloc is expected to fail with ErrLimit (checked by the caller of the closure, which the analyzer does not follow)
		{"AllocZeroed", func(tag string, n int) error { _, err := AllocZeroed(tag, n); return err }},
		{"AllocContext", func(tag string, n int) error {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			//membridge:ignore leak false positive: the alloc is expected to fail with ErrLimit (checked by the caller of the closure, which the analyzer does not follow)
			_, err := AllocContext(ctx, tag, n)
			return err
		}},
		{"Alloc/WaitFor cancelled", func(tag string, n int) error {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			//membridge:ignore leak false positive: the alloc is expected to fail with ErrLimit (checked by the caller of the closure, which the analyzer does not follow)
			_, err := Alloc(tag, n, WaitFor(ctx))
			return err
		}},
		{"Arena.Alloc", func(tag string, n int) error {
			a := NewArena(tag, 0)
			defer a.Free()
			_, err := a.Alloc(n, 8)
			return err
		}},
		{"Arena with WaitFor", func(tag string, n int) error {
			a := NewArena(tag, 0)
			defer a.Free()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			a.WaitFor(ctx)
			_, err := a.Alloc(n, 8)
			return err
		}},
		{"Adopt", func(tag string, n int) error {
			var x byte
			deleted := false
			//membridge:ignore leak false positive: Adopt is expected to fail with ErrLimit (checked by the caller of the closure, which the analyzer does not follow)
			_, err := Adopt(tag, unsafe.Pointer(&x), n, DeleterFunc("test", func(unsafe.Pointer) { deleted = true }))
			if deleted {
				t.Errorf("a refused Adopt called the deleter")
			}
			return err
		}},
		{"tracker.AllocateUnwatched", func(tag string, n int) error {
			_, err := tracker.AllocateUnwatched(tracker.Request{Kind: KindCHeap, Device: -1, Tag: tag, Bytes: int64(n)}, nil, nil)
			return err
		}},
	}
	for _, p := range paths {
		t.Run(p.name, func(t *testing.T) {
			defer leaktest.VerifyNone(t)
			tag := testkit.UniqueTag(t)
			tracker.SetTagLimit(tag, 1<<20)
			defer tracker.SetTagLimit(tag, 0)
			one, err := Alloc(tag, 1)
			require.NoError(t, err)
			defer one.Free()
			for _, n := range sizes {
				start := time.Now()
				err := p.alloc(tag, n)
				require.ErrorIs(t, err, ErrLimit, "%d bytes", n)
				assert.NotErrorIs(t, err, ErrOutOfMemory)
				assert.Contains(t, err.Error(), "limit 1048576 bytes")
				var le *tracker.LimitError
				require.ErrorAs(t, err, &le)
				assert.Equal(t, int64(n), le.Bytes)
				assert.Less(t, time.Since(start), 30*time.Second, "a request larger than the limit must not wait")
				s := tracker.TagStats(tag)
				require.Equal(t, int64(1), s.LiveBytes, "after %d bytes", n)
				require.Equal(t, int64(1), s.PeakBytes, "after %d bytes", n)
			}
		})
	}
}

// Without a limit, a size that no allocator has fails with ErrOutOfMemory
// (the ledger's total cannot pass MaxInt64 either), and leaves nothing.
func TestHostileSizesWithoutALimit(t *testing.T) {
	defer leaktest.VerifyNone(t)
	tag := testkit.UniqueTag(t)
	one, err := Alloc(tag, 1)
	require.NoError(t, err)
	defer one.Free()
	for _, n := range []int{1 << 62, math.MaxInt - 1, math.MaxInt} {
		_, err := Alloc(tag, n)
		require.ErrorIs(t, err, ErrOutOfMemory, "%d bytes", n)
		a := NewArena(tag, 0)
		_, err = a.Alloc(n, 1)
		require.ErrorIs(t, err, ErrOutOfMemory, "arena, %d bytes", n)
		a.Free()
		require.Equal(t, int64(1), tracker.TagStats(tag).LiveBytes)
	}
	// Adopting counts what the caller says it holds: MaxInt64 bytes adopted
	// fill the kind's total, and one more byte cannot be counted.
	x := make([]byte, 2)
	keep := DeleterFunc("none", func(unsafe.Pointer) {})
	adoptTag := testkit.UniqueTag(t)
	all, err := Adopt(adoptTag, unsafe.Pointer(&x[1]), math.MaxInt-int(tracker.KindStats(KindAdopted).LiveBytes), keep)
	require.NoError(t, err)
	_, err = Adopt(adoptTag, unsafe.Pointer(&x[0]), 1, keep)
	require.ErrorIs(t, err, ErrOutOfMemory)
	require.NoError(t, all.Free())
	require.GreaterOrEqual(t, tracker.KindStats(KindAdopted).LiveBytes, int64(0))
}

// A cancelled context does not fail an allocation that fits; one the
// budget refuses gets, at once, an error wrapping ErrLimit and the
// context's error (and never ErrOutOfMemory).
func TestAllocContextCancelled(t *testing.T) {
	defer leaktest.VerifyNone(t)
	tag := testkit.UniqueTag(t)
	tracker.SetTagLimit(tag, 10000)
	defer tracker.SetTagLimit(tag, 0)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	b, err := AllocContext(ctx, tag, 8000)
	require.NoError(t, err, "an allocation that fits needs no wait")
	defer b.Free()
	for _, n := range []int{3000, math.MaxInt} {
		start := time.Now()
		_, err = AllocContext(ctx, tag, n)
		require.ErrorIs(t, err, ErrLimit, "%d bytes", n)
		assert.NotErrorIs(t, err, ErrOutOfMemory)
		if n == 3000 { // could fit once memory is released: it waited, and gave up
			require.ErrorIs(t, err, context.Canceled)
		}
		assert.Less(t, time.Since(start), 30*time.Second)
	}
	a := NewArena(tag, 4096)
	defer a.Free()
	a.WaitFor(ctx)
	_, err = a.Alloc(300, 8) // a chunk of 4096 bytes
	require.ErrorIs(t, err, ErrLimit)
	require.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, int64(8000), tracker.TagStats(tag).LiveBytes)
}
