//go:build cuda

package cuda

// #include "mbcuda.h"
import "C"

import (
	"errors"
	"fmt"
	"runtime"
	"unsafe"

	"gorgonia.org/cu"
)

// What the cuda backend asks of gorgonia.org/cu, and how.
//
// gorgonia serves the cold paths it wraps: device discovery and attributes,
// memory info and the primary context's release (device_cuda.go), and
// module loading, function lookup and unloading (module_cuda.go). Its
// error type is read with errors.As (driverCode). The rest is membridge's
// own cgo (mbcuda.h): what gorgonia does not wrap (pinned memory, memory
// pools and stream-ordered allocation), the hot paths (allocation, copies,
// memsets, launches, synchronization, events), the calls that hand out
// handles the hot paths take (primary context retain, stream and event
// creation: gorgonia hides handles in unexported fields), the context push
// and pop, and cuGetErrorName (not wrapped by gorgonia).
//
// gorgonia's plain functions act on the calling OS thread's current
// context. inContext makes it current with membridge's push and pop helpers
// around the call, on a locked thread; cu.Ctx and cu.BatchedContext are
// never used (racy, and slow: docs/cuda-without-gpu.md).

// driverCode reads the CUresult from an error of gorgonia.org/cu. Its
// error type (cuResult, an int) is unexported but its constants are not:
// R is inferred from the one passed (cu.Success), and errors.As finds that
// concrete type anywhere along the chain.
func driverCode[R interface {
	~int
	error
}](err error, _ R) (int, bool) {
	var r R
	if errors.As(err, &r) {
		return int(r), true
	}
	return 0, false
}

// gorgoniaError turns an error of gorgonia.org/cu into a DriverError
// naming the failed call. The name is the driver's (cuGetErrorName:
// "CUDA_ERROR_OUT_OF_MEMORY"), not gorgonia's String ("OutOfMemory"), so
// messages read the same whichever path made the call.
func gorgoniaError(call string, err error) error {
	if err == nil {
		return nil
	}
	if code, ok := driverCode(err, cu.Success); ok {
		return &DriverError{Call: call, Code: code, Name: C.GoString(C.mbc_error_name(C.int(code)))}
	}
	return fmt.Errorf("%s: %w", call, err)
}

// inContext runs f, a gorgonia call named call, with context ctx current
// on the OS thread: the thread is locked for the duration, ctx pushed
// before f and popped after, so the thread's own current context (if the
// caller has one) is back when inContext returns. A failed push or pop is
// reported as in every helper: "cuCtxPushCurrent (for call)",
// "cuCtxPopCurrent (after call)".
func inContext(ctx uintptr, call string, f func() error) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := check(call, C.mbc_ctx_push(C.uintptr_t(ctx))); err != nil {
		return err
	}
	err := gorgoniaError(call, f())
	if perr := check(call, C.mbc_ctx_pop(C.uintptr_t(ctx))); err == nil {
		err = perr
	}
	return err
}

// functionHandle is the driver's CUfunction inside a cu.Function, for the
// launch helper (mbc_launch): launches are the hot path and stay in
// membridge's cgo, which copies the arguments without a Go allocation.
// gorgonia v0.9.6 keeps the handle as the struct's only field, unexported
// and with no accessor; the two array types below fail to compile unless
// cu.Function is exactly one pointer wide, and the stand-in driver rejects
// any launch of a handle it did not hand out (CUDA_ERROR_INVALID_HANDLE),
// so every kernel test checks the reading.
func functionHandle(fn cu.Function) uintptr {
	return *(*uintptr)(unsafe.Pointer(&fn))
}

var (
	_ [unsafe.Sizeof(cu.Function{}) - unsafe.Sizeof(uintptr(0))]struct{}
	_ [unsafe.Sizeof(uintptr(0)) - unsafe.Sizeof(cu.Function{})]struct{}
)
