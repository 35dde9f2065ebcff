package native

// #cgo CFLAGS: -Wall -Wextra -Werror -I${SRCDIR}/../csrc
// #include <stdlib.h>
// #include "mb_protect.h"
import "C"

import (
	"syscall"
	"unsafe"
)

// This file holds the cgo calls of frozen buffers' page protection
// (csrc/mb_protect.c).

func cProtectMap(n int) unsafe.Pointer { return C.mb_protect_map(C.size_t(n)) }

func cProtectUnmap(addr uintptr, n int) { C.mb_protect_unmap(C.uintptr_t(addr), C.size_t(n)) }

func cProtectReadOnly(addr uintptr, n int, ro bool) error {
	v := C.int(0)
	if ro {
		v = 1
	}
	if e := C.mb_protect_readonly(C.uintptr_t(addr), C.size_t(n), v); e != 0 {
		return syscall.Errno(e)
	}
	return nil
}

func cProtectRegister(addr uintptr, n int, desc string) int {
	cs := C.CString(desc)
	defer C.free(unsafe.Pointer(cs))
	return int(C.mb_protect_register(C.uintptr_t(addr), C.size_t(n), cs))
}

func cProtectUnregister(slot int) { C.mb_protect_unregister(C.int(slot)) }

func cPageSize() int { return int(C.mb_protect_page_size()) }
