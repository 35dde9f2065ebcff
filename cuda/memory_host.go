//go:build !cuda

package cuda

// #cgo CFLAGS: -Wall -Wextra -O2 -I${SRCDIR}/../internal/mballoc
// #include <string.h>
// #include "mb_alloc.h"
// static void *mbh_addr(uintptr_t p) { return (void *)p; }
// static void mbh_memcpy_htod(uintptr_t dst, const void *src, size_t n) { memcpy((void *)dst, src, n); }
// static void mbh_memcpy_dtoh(void *dst, uintptr_t src, size_t n) { memcpy(dst, (const void *)src, n); }
// static void mbh_memset(uintptr_t dst, int v, size_t n) { memset((void *)dst, v, n); }
// static uintptr_t mbh_alloc(size_t n, int fill) { return (uintptr_t)mb_alloc(n, 256, fill); }
import "C"

import (
	"unsafe"

	_ "github.com/membridge/membridge/internal/mballoc" // links mb_alloc.c
	"github.com/membridge/membridge/tracker"
)

// Emulated device memory: C heap memory aligned like cuMemAlloc's (256
// bytes). In the checked mode (tracker.Checking(), as in tests) fresh
// memory that is not zeroed is filled with 0xCD, so a kernel or copy that
// reads it before writing shows junk. Work is done when it is queued:
// stream order holds trivially.

func outOfMemory(call string) error {
	return &DriverError{Call: call, Code: codeOutOfMemory, Name: "CUDA_ERROR_OUT_OF_MEMORY"}
}

func drvAlloc(_ uintptr, n int, zero bool) (DevicePtr, error) {
	if emulated.used.Add(int64(n)) > emulated.total.Load() {
		emulated.used.Add(-int64(n))
		return 0, outOfMemory("cuMemAlloc")
	}
	f := C.int(C.MB_FILL_NONE)
	switch {
	case zero:
		f = C.MB_FILL_ZERO
	case tracker.Checking():
		f = C.MB_FILL_JUNK
	}
	p := C.mbh_alloc(C.size_t(n), f)
	if p == 0 {
		emulated.used.Add(-int64(n))
		return 0, outOfMemory("cuMemAlloc")
	}
	return DevicePtr(p), nil
}

func drvFree(_ uintptr, p DevicePtr, n int) error {
	C.mb_free(C.uintptr_t(p), C.size_t(n), 0)
	emulated.used.Add(-int64(n))
	return nil
}

// bareAlloc and bareFree are the baseline the allocation benchmarks
// compare with: the C heap pair the host backend allocates with, one cgo
// call each, with none of the API's accounting.
func bareAlloc(_ uintptr, n int) (DevicePtr, error) {
	p := C.mbh_alloc(C.size_t(n), C.MB_FILL_NONE)
	if p == 0 {
		return 0, outOfMemory("cuMemAlloc")
	}
	return DevicePtr(p), nil
}

func bareFree(_ uintptr, p DevicePtr, n int) error {
	C.mb_free(C.uintptr_t(p), C.size_t(n), 0)
	return nil
}

func drvAllocAsync(ctx, _ uintptr, n int, zero bool, _ uintptr) (DevicePtr, error) {
	return drvAlloc(ctx, n, zero)
}

func drvFreeAsync(ctx uintptr, p DevicePtr, n int, _ uintptr) error { return drvFree(ctx, p, n) }

func drvAllocHost(_ uintptr, n int) (unsafe.Pointer, error) {
	p := C.mb_alloc(C.size_t(n), 0, C.MB_FILL_NONE)
	if p == nil {
		return nil, outOfMemory("cuMemAllocHost")
	}
	return p, nil
}

func drvFreeHost(_ uintptr, p unsafe.Pointer) error {
	C.mb_free(C.uintptr_t(uintptr(p)), 0, 0)
	return nil
}

// emulated returns n bytes of emulated device memory at p as a Go slice,
// for the copies. Go's copy (the runtime's memmove) is used rather than C's
// memcpy: it needs no cgo call per copy and, for large copies on the
// machines measured, is faster than glibc's (see BenchmarkCopy256MiB).
func emulatedBytes(p DevicePtr, n int) []byte {
	return unsafe.Slice((*byte)(C.mbh_addr(C.uintptr_t(p))), n)
}

func drvCopyHtoD(_ uintptr, dst DevicePtr, src unsafe.Pointer, n int, _ uintptr, _ bool) error {
	copy(emulatedBytes(dst, n), unsafe.Slice((*byte)(src), n))
	return nil
}

// bareCopyHtoD and bareCopyDtoH are the baselines the copy benchmarks
// compare with: C's memcpy in one cgo call, with none of the API's checks.
func bareCopyHtoD(_ uintptr, dst DevicePtr, src unsafe.Pointer, n int) error {
	C.mbh_memcpy_htod(C.uintptr_t(dst), src, C.size_t(n))
	return nil
}

func bareCopyDtoH(_ uintptr, dst unsafe.Pointer, src DevicePtr, n int) error {
	C.mbh_memcpy_dtoh(dst, C.uintptr_t(src), C.size_t(n))
	return nil
}

func drvCopyDtoH(_ uintptr, dst unsafe.Pointer, src DevicePtr, n int, _ uintptr, _ bool) error {
	copy(unsafe.Slice((*byte)(dst), n), emulatedBytes(src, n))
	return nil
}

func drvCopyDtoD(_ uintptr, dst, src DevicePtr, n int, _ uintptr, _ bool) error {
	copy(emulatedBytes(dst, n), emulatedBytes(src, n)) // copy handles overlap, as memmove
	return nil
}

func drvMemset(_ uintptr, dst DevicePtr, v byte, n int, _ uintptr, _ bool) error {
	C.mbh_memset(C.uintptr_t(dst), C.int(v), C.size_t(n))
	return nil
}
