package cuda

import (
	"errors"
	"math"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/membridge/membridge/tracker"
	"github.com/membridge/membridge/tracker/leaktest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Device, stream-ordered and pinned allocations go through the ledger's
// limits like host memory: a hostile size over a limit gets ErrLimit with
// the sizes, and leaves the counters as they were.
func TestLimitRefusesHostileSizes(t *testing.T) {
	defer leaktest.VerifyNone(t)
	s, err := shared.NewStream()
	require.NoError(t, err)
	defer s.Close()
	paths := []struct {
		name  string
		alloc func(tag string, n int) error
	}{
		//membridge:ignore leak false positive: the alloc is expected to fail with ErrLimit (checked by the caller of the closure, which the analyzer does not follow)
		{"Alloc", func(tag string, n int) error { _, err := shared.Alloc(tag, n); return err }},
		//membridge:ignore leak false positive: the alloc is expected to fail with ErrLimit (checked by the caller of the closure, which the analyzer does not follow)
		{"AllocZeroed", func(tag string, n int) error { _, err := shared.AllocZeroed(tag, n); return err }},
		//membridge:ignore leak false positive: the alloc is expected to fail with ErrLimit (checked by the caller of the closure, which the analyzer does not follow)
		{"Stream.Alloc", func(tag string, n int) error { _, err := s.Alloc(tag, n); return err }},
		//membridge:ignore leak false positive: the alloc is expected to fail with ErrLimit (checked by the caller of the closure, which the analyzer does not follow)
		{"AllocPinned", func(tag string, n int) error { _, err := shared.AllocPinned(tag, n); return err }},
	}
	for _, p := range paths {
		t.Run(p.name, func(t *testing.T) {
			tag := "test/limit-hostile/" + p.name
			tracker.SetTagLimit(tag, 1<<20)
			defer tracker.SetTagLimit(tag, 0)
			one, err := shared.Alloc(tag, 1)
			require.NoError(t, err)
			defer one.Free()
			for _, n := range []int{1<<20 + 1, 1 << 62, math.MaxInt - 1, math.MaxInt} {
				err := p.alloc(tag, n)
				require.ErrorIs(t, err, ErrLimit, "%d bytes", n)
				assert.NotErrorIs(t, err, ErrOutOfMemory)
				assert.Contains(t, err.Error(), "limit 1048576 bytes")
				require.Equal(t, int64(1), tracker.TagStats(tag).LiveBytes, "after %d bytes", n)
			}
		})
	}
}

// One goroutine asks for MaxInt bytes of device memory, another for MaxInt
// pinned bytes, while a third allocates 4 MiB device buffers, all under a
// 1 MiB tag limit: nothing over the limit is ever granted.
func TestLimitHoldsAgainstOverflowingDeviceRequests(t *testing.T) {
	defer leaktest.VerifyNone(t)
	const tag = "test/limit-overflow"
	tracker.SetTagLimit(tag, 1<<20)
	defer tracker.SetTagLimit(tag, 0)
	one, err := shared.AllocPinned(tag, 1)
	require.NoError(t, err)
	defer one.Free()

	var stop atomic.Bool
	var wg sync.WaitGroup
	for _, alloc := range []func() error{
		//membridge:ignore leak false positive: a MaxInt alloc under a 1 MiB limit fails with ErrLimit (checked by the caller of the closure, which the analyzer does not follow)
		func() error { _, err := shared.Alloc(tag, math.MaxInt); return err },
		//membridge:ignore leak false positive: a MaxInt alloc under a 1 MiB limit fails with ErrLimit (checked by the caller of the closure, which the analyzer does not follow)
		func() error { _, err := shared.AllocPinned(tag, math.MaxInt); return err },
	} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				if err := alloc(); !errors.Is(err, ErrLimit) {
					t.Errorf("MaxInt bytes under a 1 MiB limit: %v, want ErrLimit", err)
					return
				}
			}
		}()
	}
	deadline := time.Now().Add(300 * time.Millisecond)
	granted := 0
	for i := 0; i < 20000 && time.Now().Before(deadline); i++ {
		b, err := shared.Alloc(tag, 4<<20)
		if err == nil {
			granted++
			b.Free()
			continue
		}
		require.ErrorIs(t, err, ErrLimit)
	}
	stop.Store(true)
	wg.Wait()
	require.Zero(t, granted, "4 MiB device buffers granted under a 1 MiB limit")
	st := tracker.TagStats(tag)
	require.Equal(t, int64(1), st.LiveBytes)
	require.LessOrEqual(t, st.PeakBytes, int64(1<<20))
}
