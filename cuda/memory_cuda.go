//go:build cuda

package cuda

// The helpers write their result through a pointer and keep none, and
// never call back into Go: the result variable then stays on the stack
// (one Go allocation fewer per device allocation).

// #cgo noescape mbc_alloc
// #cgo nocallback mbc_alloc
// #cgo noescape mbc_alloc_async
// #cgo nocallback mbc_alloc_async
// #cgo noescape mbc_alloc_host
// #cgo nocallback mbc_alloc_host
// #include "mbcuda.h"
import "C"

import "unsafe"

func cflag(b bool) C.int {
	if b {
		return 1
	}
	return 0
}

func drvAlloc(ctx uintptr, n int, zero bool) (DevicePtr, error) {
	var p C.uintptr_t
	if err := check("cuMemAlloc", C.mbc_alloc(C.uintptr_t(ctx), C.size_t(n), cflag(zero), &p)); err != nil {
		return 0, err
	}
	return DevicePtr(p), nil
}

func drvFree(ctx uintptr, p DevicePtr, _ int) error {
	return check("cuMemFree", C.mbc_free(C.uintptr_t(ctx), C.uintptr_t(p)))
}

// bareAlloc and bareFree are the baseline the allocation benchmarks
// compare with: one cuMemAlloc and one cuMemFree, each in one cgo call
// with the context pushed and popped, none of the API's accounting.
func bareAlloc(ctx uintptr, n int) (DevicePtr, error) { return drvAlloc(ctx, n, false) }

func bareFree(ctx uintptr, p DevicePtr, n int) error { return drvFree(ctx, p, n) }

func drvAllocAsync(ctx, pool uintptr, n int, zero bool, stream uintptr) (DevicePtr, error) {
	var p C.uintptr_t
	if err := check("cuMemAllocAsync", C.mbc_alloc_async(C.uintptr_t(ctx), C.uintptr_t(pool), C.size_t(n), cflag(zero), C.uintptr_t(stream), &p)); err != nil {
		return 0, err
	}
	return DevicePtr(p), nil
}

func drvFreeAsync(ctx uintptr, p DevicePtr, _ int, stream uintptr) error {
	return check("cuMemFreeAsync", C.mbc_free_async(C.uintptr_t(ctx), C.uintptr_t(p), C.uintptr_t(stream)))
}

func drvAllocHost(ctx uintptr, n int) (unsafe.Pointer, error) {
	var p unsafe.Pointer
	if err := check("cuMemAllocHost", C.mbc_alloc_host(C.uintptr_t(ctx), C.size_t(n), &p)); err != nil {
		return nil, err
	}
	return p, nil
}

func drvFreeHost(ctx uintptr, p unsafe.Pointer) error {
	return check("cuMemFreeHost", C.mbc_free_host(C.uintptr_t(ctx), p))
}

func drvCopyHtoD(ctx uintptr, dst DevicePtr, src unsafe.Pointer, n int, stream uintptr, async bool) error {
	return check("cuMemcpyHtoD", C.mbc_htod(C.uintptr_t(ctx), C.uintptr_t(dst), src, C.size_t(n), C.uintptr_t(stream), cflag(async)))
}

// bareCopyHtoD and bareCopyDtoH are the baselines the copy benchmarks
// compare with: one synchronous cuMemcpy, with none of the API's checks.
func bareCopyHtoD(ctx uintptr, dst DevicePtr, src unsafe.Pointer, n int) error {
	return drvCopyHtoD(ctx, dst, src, n, 0, false)
}

func bareCopyDtoH(ctx uintptr, dst unsafe.Pointer, src DevicePtr, n int) error {
	return drvCopyDtoH(ctx, dst, src, n, 0, false)
}

func drvCopyDtoH(ctx uintptr, dst unsafe.Pointer, src DevicePtr, n int, stream uintptr, async bool) error {
	return check("cuMemcpyDtoH", C.mbc_dtoh(C.uintptr_t(ctx), dst, C.uintptr_t(src), C.size_t(n), C.uintptr_t(stream), cflag(async)))
}

func drvCopyDtoD(ctx uintptr, dst, src DevicePtr, n int, stream uintptr, async bool) error {
	return check("cuMemcpyDtoD", C.mbc_dtod(C.uintptr_t(ctx), C.uintptr_t(dst), C.uintptr_t(src), C.size_t(n), C.uintptr_t(stream), cflag(async)))
}

func drvMemset(ctx uintptr, dst DevicePtr, v byte, n int, stream uintptr, async bool) error {
	return check("cuMemsetD8", C.mbc_memset(C.uintptr_t(ctx), C.uintptr_t(dst), C.int(v), C.size_t(n), C.uintptr_t(stream), cflag(async)))
}
