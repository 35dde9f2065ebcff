package native

// #cgo CFLAGS: -Wall -Wextra -O2 -I${SRCDIR}/../internal/mballoc
// #cgo noescape mb_free_batch
// #cgo nocallback mb_free_batch
// #cgo noescape mb_alloc_batch
// #cgo nocallback mb_alloc_batch
// #include "mb_alloc.h"
import "C"

import (
	"unsafe"

	_ "github.com/membridge/membridge/internal/mballoc" // links mb_alloc.c
)

// This file is the only one in the package that calls C.

// fill says what fresh memory holds.
type fill int

const (
	fillNone fill = C.MB_FILL_NONE
	fillZero fill = C.MB_FILL_ZERO
	fillJunk fill = C.MB_FILL_JUNK
)

func cAlloc(n, align int, f fill) unsafe.Pointer {
	return C.mb_alloc(C.size_t(n), C.size_t(align), C.int(f))
}

func cFree(addr uintptr, n int64, poison bool) {
	p := C.int(0)
	if poison {
		p = 1
	}
	C.mb_free(C.uintptr_t(addr), C.size_t(n), p)
}

// cFreeBatch frees the blocks at addrs (the batch stays on the caller's
// stack: the C side keeps no pointer to it).
func cFreeBatch(addrs []uintptr) {
	if len(addrs) > 0 {
		C.mb_free_batch((*C.uintptr_t)(unsafe.Pointer(&addrs[0])), C.size_t(len(addrs)))
	}
}

// cAllocBatch mallocs up to len(out) blocks of size bytes into out and
// returns how many it got (out stays on the caller's stack: the C side
// keeps no pointer to it).
func cAllocBatch(size int, out []uintptr) int {
	if len(out) == 0 {
		return 0
	}
	return int(C.mb_alloc_batch(C.size_t(size), (*C.uintptr_t)(unsafe.Pointer(&out[0])), C.size_t(len(out))))
}

func cCallDeleter(fn, p unsafe.Pointer) {
	C.mb_call_deleter((*[0]byte)(fn), p)
}

// cFreeFunc is libc's free, as a C function pointer for CDeleter.
var cFreeFunc = unsafe.Pointer(C.mb_libc_free)
