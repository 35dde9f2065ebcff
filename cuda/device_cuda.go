//go:build cuda

package cuda

// #cgo CFLAGS: -Wall -Wextra -O2
// #cgo LDFLAGS: -lcuda
// #cgo linux CFLAGS: -I/usr/local/cuda/include
// #cgo linux LDFLAGS: -L/usr/local/cuda/lib64
// #include <cuda.h>
// #include "mbcuda.h"
import "C"

import (
	"gorgonia.org/cu"
)

// cuda.h and libcuda come from the system's include and library paths
// (Debian's nvidia-cuda-dev) or NVIDIA's /usr/local/cuda; CGO_CFLAGS and
// CGO_LDFLAGS point elsewhere (CGO_LDFLAGS's -L comes first, which is how
// tests link against the stand-in driver).

// The cuda backend: the NVIDIA driver. gorgonia.org/cu initialises the
// driver (its package init calls cuInit), discovers and describes devices,
// and loads modules (gorgonia_cuda.go says what it serves and how); the
// rest goes through membridge's own helpers (mbcuda.h), one cgo call each
// with the context pushed and popped inside.

const backendName = "cuda"

// The ledger kinds of this backend.
var (
	kindDevice = KindDevice
	kindPool   = KindDevicePool
	kindPinned = KindPinned
)

// check turns a helper's status into a DriverError naming the failed call.
func check(call string, st C.mbc_status) error {
	if st.rc == C.CUDA_SUCCESS {
		return nil
	}
	switch st.stage {
	case C.MBC_STAGE_PUSH:
		call = "cuCtxPushCurrent (for " + call + ")"
	case C.MBC_STAGE_POP:
		call = "cuCtxPopCurrent (after " + call + ")"
	}
	return &DriverError{Call: call, Code: int(st.rc), Name: C.GoString(C.mbc_error_name(st.rc))}
}

func drvDeviceCount() (int, error) {
	n, err := cu.NumDevices()
	if err != nil {
		return 0, gorgoniaError("cuDeviceGetCount", err)
	}
	if n == 0 {
		return 0, &DriverError{Call: "cuDeviceGetCount", Code: codeNoDevice, Name: "CUDA_ERROR_NO_DEVICE"}
	}
	return n, nil
}

// drvDeviceInfo describes a device through gorgonia: none of these calls
// needs a context.
func drvDeviceInfo(ord int) (Device, error) {
	d, err := cu.GetDevice(ord)
	if err != nil {
		return Device{}, gorgoniaError("cuDeviceGet", err)
	}
	name, err := d.Name()
	if err != nil {
		return Device{}, gorgoniaError("cuDeviceGetName", err)
	}
	total, err := d.TotalMem()
	if err != nil {
		return Device{}, gorgoniaError("cuDeviceTotalMem", err)
	}
	cc, err := d.Attributes(cu.ComputeCapabilityMajor, cu.ComputeCapabilityMinor)
	if err != nil {
		return Device{}, gorgoniaError("cuDeviceGetAttribute", err)
	}
	// gorgonia v0.9.6 predates memory pools: the attribute comes from cuda.h.
	pools, err := d.Attribute(cu.DeviceAttribute(C.CU_DEVICE_ATTRIBUTE_MEMORY_POOLS_SUPPORTED))
	if err != nil {
		pools = 0 // a driver that does not know the attribute has no pools
	}
	return Device{Ordinal: ord, Name: name, TotalMemory: total, Major: cc[0], Minor: cc[1], MemoryPools: pools != 0}, nil
}

// drvCtxRetain stays in membridge's cgo: gorgonia's RetainPrimaryCtx hands
// the context back inside a cu.CUContext, whose handle the helpers (which
// push it) cannot read. Releasing needs only the device: gorgonia's.
func drvCtxRetain(ord int) (uintptr, error) {
	var h C.uintptr_t
	if err := check("cuDevicePrimaryCtxRetain", C.mbc_primary_retain(C.int(ord), &h)); err != nil {
		return 0, err
	}
	return uintptr(h), nil
}

func drvCtxRelease(ord int) error {
	d, err := cu.GetDevice(ord)
	if err != nil {
		return gorgoniaError("cuDeviceGet", err)
	}
	return gorgoniaError("cuDevicePrimaryCtxRelease", d.ReleasePrimaryCtx())
}

// drvCtxSynchronize stays in membridge's cgo: services synchronize often,
// and one helper call costs less than a locked thread and three calls.
func drvCtxSynchronize(ctx uintptr) error {
	return check("cuCtxSynchronize", C.mbc_ctx_sync(C.uintptr_t(ctx)))
}

// drvMemInfo is a cold path (Context.MemInfo): gorgonia's, in the context.
func drvMemInfo(ctx uintptr) (free, total int64, err error) {
	err = inContext(ctx, "cuMemGetInfo", func() (err error) {
		free, total, err = cu.MemInfo()
		return err
	})
	if err != nil {
		return 0, 0, err
	}
	return free, total, nil
}

// drvPoolInit: gorgonia v0.9.6 wraps no memory pool call.
func drvPoolInit(ctx uintptr, ord int, threshold uint64) (uintptr, error) {
	var p C.uintptr_t
	if err := check("cuMemPoolSetAttribute", C.mbc_pool_init(C.uintptr_t(ctx), C.int(ord), C.uint64_t(threshold), &p)); err != nil {
		return 0, err
	}
	return uintptr(p), nil
}
