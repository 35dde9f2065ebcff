//go:build !cuda

package cuda

import (
	"fmt"
	"os"
	"strconv"
	"sync/atomic"
)

// The host backend: one emulated device whose memory is C heap memory.

const backendName = "host"

// The ledger kinds of this backend: all emulated device memory, pooled or
// not, is KindDeviceEmulated, so a CPU-only service never looks as if it
// held GPU memory.
var (
	kindDevice = KindDeviceEmulated
	kindPool   = KindDeviceEmulated
	kindPinned = KindPinned
)

// EmulatedDeviceMemory is the memory the emulated device reports and will
// allocate, in bytes; beyond it allocations fail with ErrOutOfMemory as on a
// full GPU. The environment variable MEMBRIDGE_EMULATED_DEVICE_MEMORY
// (bytes), read when the first Context opens, sets another size: a small
// one makes device out-of-memory easy to provoke in a service's tests.
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
	if emulated.retained.Add(1) == 1 {
		total := int64(EmulatedDeviceMemory)
		if v := os.Getenv("MEMBRIDGE_EMULATED_DEVICE_MEMORY"); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 {
				emulated.retained.Add(-1)
				return 0, fmt.Errorf("MEMBRIDGE_EMULATED_DEVICE_MEMORY=%q: want a number of bytes", v)
			}
			total = n
		}
		emulated.total.Store(total)
	}
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
