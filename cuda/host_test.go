//go:build !cuda

package cuda

import (
	"errors"
	"testing"

	"github.com/membridge/membridge/internal/testkit"
	"github.com/membridge/membridge/tracker"
	"github.com/membridge/membridge/tracker/leaktest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Tests of what only the host backend can show: its emulation's own
// accounting.

func TestHostFreshMemoryIsJunk(t *testing.T) {
	defer leaktest.VerifyNone(t)
	if !tracker.Checking() {
		t.Skip("junk fill is on in the debug mode only")
	}
	b, err := shared.Alloc("test/junk", 64)
	require.NoError(t, err)
	defer b.Free()
	out := make([]byte, 64)
	require.NoError(t, CopyDtoH(out, b))
	for i, v := range out {
		require.EqualValues(t, 0xCD, v, "byte %d of fresh memory = %#x, want 0xCD", i, v)
	}
}

// TestHostReliefThenRetry fills the emulated device, registers a relief
// that frees a buffer (as a cache's eviction would) and checks that an
// allocation that did not fit succeeds after the relief, counted as a
// successful retry.
func TestHostReliefThenRetry(t *testing.T) {
	defer leaktest.VerifyNone(t)
	defer emulated.total.Store(emulated.total.Load())
	emulated.total.Store(emulated.used.Load() + 1<<20)
	cached, err := shared.Alloc("test/cache", 768<<10)
	require.NoError(t, err)
	evicted := false
	unregister := tracker.RegisterRelief("test/cache", func(tracker.Shortage) int64 {
		if evicted {
			return 0
		}
		evicted = true
		cached.Free()
		return int64(cached.Len())
	})
	defer unregister()
	before := tracker.Pressure()
	b, err := shared.Alloc("test/needs-room", 512<<10)
	require.NoError(t, err, "alloc after relief")
	defer b.Free()
	after := tracker.Pressure()
	if !evicted || after.RetrySuccesses != before.RetrySuccesses+1 {
		t.Errorf("evicted %v, pressure before %+v after %+v", evicted, before, after)
	}
	if _, err := shared.Alloc("test/needs-room", 1<<20); !errors.Is(err, ErrOutOfMemory) {
		t.Errorf("alloc beyond the device: %v, want ErrOutOfMemory", err)
	}
	if free, total, _ := shared.MemInfo(); total-free < 512<<10 {
		t.Errorf("MemInfo: %d free of %d with 512 KiB allocated", free, total)
	}
}

// TestHostSafetyNetFreesOnTheOwner checks that a dropped buffer's memory is
// given back by its context's next call, not by the cleanup goroutine.
func TestHostSafetyNetFreesOnTheOwner(t *testing.T) {
	defer leaktest.VerifyNone(t)
	prev := tracker.SetLeakPolicy(tracker.LeakFree)
	defer tracker.SetLeakPolicy(prev)
	tracker.SetLeakHandler(func(*tracker.Record) {})
	defer tracker.SetLeakHandler(nil)
	c, err := Open(0)
	require.NoError(t, err)
	defer c.Close()
	used := emulated.used.Load()
	var rec *tracker.Record
	func() {
		//membridge:ignore leak the test drops the buffer on purpose and checks that the safety net queues it for its context
		b, _ := c.Alloc("test/dropped-owner", 1<<16)
		rec = b.a.rec
	}()
	testkit.Eventually(t, func(ct *assert.CollectT) {
		tracker.GC()
		assert.True(ct, c.queued.Load(), "the dropped buffer queued to its context")
	})
	require.True(t, rec.Dropped(), "the queued buffer's record is marked dropped")
	if got := emulated.used.Load(); got != used+1<<16 {
		t.Errorf("emulated bytes in use %d, want %d: freed before the owner's next call", got, used+1<<16)
	}
	if _, _, err := c.MemInfo(); err != nil { // any call drains the queue
		t.Fatal(err)
	}
	if got := emulated.used.Load(); got != used {
		t.Errorf("emulated bytes in use %d after the drain, want %d", got, used)
	}
}

func TestHostUserModuleWithoutReference(t *testing.T) {
	defer leaktest.VerifyNone(t)
	m, err := shared.LoadModule(".visible .entry my_kernel(\n\t.param .u64 my_kernel_param_0\n)\n")
	require.NoError(t, err)
	defer m.Close()
	if _, err := m.Function("my_kernel"); !errors.Is(err, ErrNotSupported) {
		t.Errorf("a kernel with no C reference: %v, want ErrNotSupported", err)
	}
	if _, err := m.Function("absent"); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("a kernel not in the module: %v", err)
	}
}
