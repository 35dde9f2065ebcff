//go:build cuda

package cuda

// mbc_launch copies the argument slots before it returns (the driver copies
// kernel parameters at the launch) and never calls back into Go: the
// slots then stay on the launching goroutine's stack.

// #cgo noescape mbc_launch
// #cgo nocallback mbc_launch
// #include "mbcuda.h"
import "C"

import (
	"fmt"
	"runtime/cgo"
	"unsafe"

	"gorgonia.org/cu"
)

// Modules are loaded, searched and unloaded through gorgonia.org/cu (cold
// paths), inside inContext. A Module's handle is a cgo.Handle of the
// cu.Module, deleted when it is unloaded (Module.Close or the context's
// Close); a Function's is the driver's CUfunction, which the launch
// helper takes as it is.

func drvModuleLoad(ctx uintptr, ptx string) (uintptr, error) {
	var mod cu.Module
	err := inContext(ctx, "cuModuleLoadData", func() (err error) {
		mod, err = cu.LoadData(ptx)
		return err
	})
	if err != nil {
		return 0, err
	}
	return uintptr(cgo.NewHandle(mod)), nil
}

func drvModuleUnload(ctx, m uintptr) error {
	h := cgo.Handle(m)
	mod := h.Value().(cu.Module)
	h.Delete()
	return inContext(ctx, "cuModuleUnload", mod.Unload)
}

func drvModuleFunction(ctx, m uintptr, name string) (uintptr, error) {
	mod := cgo.Handle(m).Value().(cu.Module)
	var fn cu.Function
	err := inContext(ctx, "cuModuleGetFunction", func() (err error) {
		fn, err = mod.Function(name)
		return err
	})
	if err != nil {
		return 0, err
	}
	return functionHandle(fn), nil
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
