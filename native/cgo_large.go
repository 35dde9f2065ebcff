package native

// #cgo CFLAGS: -Wall -Wextra
// #include "mb_large.h"
import "C"

import "unsafe"

// This file holds the cgo calls of the large-buffer path (mb_large.c).

func cLargeAlloc(n int, f fill) unsafe.Pointer {
	return C.mb_large_alloc(C.size_t(n), C.int(f))
}

func cLargeFree(addr uintptr, n int, poison bool) {
	v := C.int(0)
	if poison {
		v = 1
	}
	C.mb_large_free(C.uintptr_t(addr), C.size_t(n), v)
}

func cLargeTrim(keep int64) int64 {
	return int64(C.mb_large_trim(C.size_t(keep)))
}

func cLargeStats() LargeStats {
	var s C.struct_mb_large_stats
	C.mb_large_stats(&s)
	return LargeStats{
		LiveBytes: int64(s.live_bytes),
		KeptBytes: int64(s.kept_bytes),
		Maps:      int64(s.maps),
		Unmaps:    int64(s.unmaps),
		Reuses:    int64(s.reuses),
	}
}
