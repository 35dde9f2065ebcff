//go:build !cuda

package cuda

import (
	"sync/atomic"

	"github.com/membridge/membridge/tracker"
)

// The host backend: one emulated device whose memory is C heap memory.

const backendName = "host"

// The ledger kinds of this backend: all emulated device memory, pooled or
// not, is KindDeviceEmulated, so a CPU-only service never looks as if it
// held GPU memory.
const (
	kindDevice = tracker.KindDeviceEmulated
	kindPool   = tracker.KindDeviceEmulated
	kindPinned = tracker.KindPinned
)

// EmulatedDeviceMemory is the memory the emulated device reports and will
// allocate, in bytes; beyond it allocations fail with ErrOutOfMemory as on a
// full GPU.
const EmulatedDeviceMemory = 16 << 30

var emulated struct {
	total    atomic.Int64 // EmulatedDeviceMemory; tests lower it
	used     atomic.Int64 // bytes of emulated device memory allocated
	retained atomic.Int64 // primary context retains
}

func init() { emulated.total.Store(EmulatedDeviceMemory) }

func drvDeviceCount() (int, error) { return 1, nil }

func drvDeviceInfo(ord int) (Device, error) {
	return Device{
		Ordinal:     ord,
		Name:        "membridge host emulation",
		TotalMemory: emulated.total.Load(),
		Major:       9,
		Minor:       0,
		MemoryPools: true,
	}, nil
}

func drvCtxRetain(int) (uintptr, error) {
	emulated.retained.Add(1)
	return 1, nil
}

func drvCtxRelease(int) error {
	emulated.retained.Add(-1)
	return nil
}

func drvCtxSynchronize(uintptr) error { return nil }

func drvMemInfo(uintptr) (free, total int64, err error) {
	total = emulated.total.Load()
	return max(total-emulated.used.Load(), 0), total, nil
}

func drvPoolInit(uintptr, int, uint64) (uintptr, error) { return 1, nil }
