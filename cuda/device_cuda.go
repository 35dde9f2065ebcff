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
	"fmt"
	"reflect"

	"gorgonia.org/cu"

	"github.com/membridge/membridge/tracker"
)

// cuda.h and libcuda come from the system's include and library paths
// (Debian's nvidia-cuda-dev) or NVIDIA's /usr/local/cuda; CGO_CFLAGS and
// CGO_LDFLAGS point elsewhere (CGO_LDFLAGS's -L comes first, which is how
// tests link against the stand-in driver).

// The cuda backend: the NVIDIA driver. gorgonia.org/cu initialises the
// driver (its package init calls cuInit) and describes devices; the
// context-scoped calls go through membridge's own helpers (mbcuda.h), one
// cgo call each with the context pushed and popped inside.

const backendName = "cuda"

// The ledger kinds of this backend.
const (
	kindDevice = tracker.KindDevice
	kindPool   = tracker.KindDevicePool
	kindPinned = tracker.KindPinned
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

// gorgoniaError turns an error of gorgonia.org/cu, whose CUresult type is
// an unexported integer type, into a DriverError.
func gorgoniaError(call string, err error) error {
	if err == nil {
		return nil
	}
	v := reflect.ValueOf(err)
	if v.Kind() == reflect.Int {
		code := int(v.Int())
		return &DriverError{Call: call, Code: code, Name: C.GoString(C.mbc_error_name(C.int(code)))}
	}
	return fmt.Errorf("%s: %w", call, err)
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

func drvDeviceInfo(ord int) (Device, error) {
	d := cu.Device(ord)
	name, err := d.Name()
	if err != nil {
		return Device{}, gorgoniaError("cuDeviceGetName", err)
	}
	total, err := d.TotalMem()
	if err != nil {
		return Device{}, gorgoniaError("cuDeviceTotalMem", err)
	}
	major, err := d.Attribute(cu.ComputeCapabilityMajor)
	if err != nil {
		return Device{}, gorgoniaError("cuDeviceGetAttribute", err)
	}
	minor, err := d.Attribute(cu.ComputeCapabilityMinor)
	if err != nil {
		return Device{}, gorgoniaError("cuDeviceGetAttribute", err)
	}
	pools, err := d.Attribute(cu.DeviceAttribute(C.CU_DEVICE_ATTRIBUTE_MEMORY_POOLS_SUPPORTED))
	if err != nil {
		pools = 0 // a driver that does not know the attribute has no pools
	}
	return Device{Ordinal: ord, Name: name, TotalMemory: total, Major: major, Minor: minor, MemoryPools: pools != 0}, nil
}

func drvCtxRetain(ord int) (uintptr, error) {
	var h C.uintptr_t
	if err := check("cuDevicePrimaryCtxRetain", C.mbc_primary_retain(C.int(ord), &h)); err != nil {
		return 0, err
	}
	return uintptr(h), nil
}

func drvCtxRelease(ord int) error {
	return check("cuDevicePrimaryCtxRelease", C.mbc_primary_release(C.int(ord)))
}

func drvCtxSynchronize(ctx uintptr) error {
	return check("cuCtxSynchronize", C.mbc_ctx_sync(C.uintptr_t(ctx)))
}

func drvMemInfo(ctx uintptr) (free, total int64, err error) {
	var f, t C.size_t
	if err := check("cuMemGetInfo", C.mbc_mem_info(C.uintptr_t(ctx), &f, &t)); err != nil {
		return 0, 0, err
	}
	return int64(f), int64(t), nil
}

func drvPoolInit(ctx uintptr, ord int, threshold uint64) (uintptr, error) {
	var p C.uintptr_t
	if err := check("cuMemPoolSetAttribute", C.mbc_pool_init(C.uintptr_t(ctx), C.int(ord), C.uint64_t(threshold), &p)); err != nil {
		return 0, err
	}
	return uintptr(p), nil
}
