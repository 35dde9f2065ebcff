package native

// #cgo CFLAGS: -Wall -Wextra
// #include <stdlib.h>
// #include "mb_protect.h"
import "C"

import (
	"syscall"
	"unsafe"
)

// This file holds the cgo calls of frozen buffers' page protection
// (mb_protect.c).

func cProtectMap(n int) unsafe.Pointer { return C.mb_protect_map(C.size_t(n)) }

func cProtectUnmap(addr uintptr, n int) { C.mb_protect_unmap(C.uintptr_t(addr), C.size_t(n)) }

// protection modes of cProtect
const (
	protRW   = C.MB_PROT_RW
	protRO   = C.MB_PROT_RO
	protNone = C.MB_PROT_NONE
)

func cProtect(addr uintptr, n int, mode int) error {
	if e := C.mb_protect_set(C.uintptr_t(addr), C.size_t(n), C.int(mode)); e != 0 {
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
