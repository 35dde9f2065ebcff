//go:build cuda

package cuda

// mbc_launch copies the argument slots before it returns (the driver copies
// kernel parameters at the launch) and never calls back into Go: the
// slots then stay on the launching goroutine's stack.

// #cgo noescape mbc_launch
// #cgo nocallback mbc_launch
// #include <stdlib.h>
// #include "mbcuda.h"
import "C"

import (
	"fmt"
	"unsafe"
)

func drvModuleLoad(ctx uintptr, ptx string) (uintptr, error) {
	src := C.CString(ptx)
	defer C.free(unsafe.Pointer(src))
	var m C.uintptr_t
	if err := check("cuModuleLoadData", C.mbc_module_load(C.uintptr_t(ctx), src, &m)); err != nil {
		return 0, err
	}
	return uintptr(m), nil
}

func drvModuleUnload(ctx, m uintptr) error {
	return check("cuModuleUnload", C.mbc_module_unload(C.uintptr_t(ctx), C.uintptr_t(m)))
}

func drvModuleFunction(ctx, m uintptr, name string) (uintptr, error) {
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	var f C.uintptr_t
	if err := check("cuModuleGetFunction", C.mbc_module_function(C.uintptr_t(ctx), C.uintptr_t(m), cname, &f)); err != nil {
		return 0, err
	}
	return uintptr(f), nil
}

func drvLaunch(ctx, fn uintptr, grid, block Dim3, shmem uint32, stream uintptr, slots []uint64) error {
	if len(slots) > C.MBC_MAX_PARAMS {
		return fmt.Errorf("%d kernel arguments, at most %d: %w", len(slots), C.MBC_MAX_PARAMS, ErrBadLaunch)
	}
	var p *C.uint64_t
	if len(slots) > 0 {
		p = (*C.uint64_t)(unsafe.Pointer(&slots[0]))
	}
	return check("cuLaunchKernel", C.mbc_launch(C.uintptr_t(ctx), C.uintptr_t(fn),
		C.unsigned(grid.X), C.unsigned(grid.Y), C.unsigned(grid.Z),
		C.unsigned(block.X), C.unsigned(block.Y), C.unsigned(block.Z),
		C.unsigned(shmem), C.uintptr_t(stream), p, C.int(len(slots))))
}
