package cext

// #cgo CFLAGS: -Wall -Wextra -O2
// #include <stdlib.h>
// #include "mb_bridge.h"
// void cext_set_tracing(int on);
import "C"

import (
	"unsafe"
)

// This file is the only one in the package that calls C.

const maxTags = C.MEMBRIDGE_MAX_TAGS

// The results of the bridge's ownership moves.
const (
	bridgeOK      = C.MB_BRIDGE_OK
	bridgeForeign = C.MB_BRIDGE_FOREIGN
	bridgeGoOwned = C.MB_BRIDGE_GO_OWNED
	bridgeCOwned  = C.MB_BRIDGE_C_OWNED
)

//export cextTraceAlloc
func cextTraceAlloc(p unsafe.Pointer, n C.size_t, tag C.int) {
	traceAlloc(uintptr(p), int64(n), tagName(int(tag)))
}

//export cextTraceFree
func cextTraceFree(p unsafe.Pointer) C.int {
	if traceFree(uintptr(p)) {
		return 1
	}
	return 0
}

// cSetTracing installs the trace hooks and turns tracing on or off.
// cSetChecking turns C allocations' tracing and the C side's checking
// mode (every block from malloc, no size classes) on or off together.
func cSetChecking(on bool) {
	v := C.int(0)
	if on {
		v = 1
	}
	C.cext_set_tracing(v)
	C.mb_bridge_set_checking(v)
}

func cTagCount() int { return int(C.membridge_tag_count()) }

func cTagName(i int) string {
	s := C.membridge_tag_name(C.int(i))
	if s == nil {
		return ""
	}
	return C.GoString(s)
}

func cTag(name string) int {
	cs := C.CString(name)
	defer C.free(unsafe.Pointer(cs))
	return int(C.membridge_tag(cs))
}

func cReadTagStats(i int) (s C.membridge_tag_stats, ok bool) {
	return s, C.membridge_read_tag_stats(C.int(i), &s) == 0
}

func cToGo(p unsafe.Pointer) (size int, tag int, traced bool, res int) {
	var n C.size_t
	var t, tr C.int
	r := C.mb_bridge_to_go(p, &n, &t, &tr)
	return int(n), int(t), tr != 0, int(r)
}

func cToC(p unsafe.Pointer, traced bool) int {
	v := C.int(0)
	if traced {
		v = 1
	}
	return int(C.mb_bridge_to_c(p, v))
}

func cCheck(p unsafe.Pointer) (size int, tag int, res int) {
	var n C.size_t
	var t C.int
	r := C.mb_bridge_check(p, &n, &t)
	return int(n), int(t), int(r)
}

func cAllocForGo(tag, n int) unsafe.Pointer {
	return C.mb_bridge_alloc_for_go(C.int(tag), C.size_t(n), 0)
}

func cReleaseWith(deleter, p unsafe.Pointer) {
	C.mb_bridge_release_with((*[0]byte)(deleter), p)
}

func cFree(p unsafe.Pointer) { C.membridge_free(p) }

// The C functions Go hands out as deleters.
var (
	cMembridgeFree = unsafe.Pointer(C.membridge_free)
)
