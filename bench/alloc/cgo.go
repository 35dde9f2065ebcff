package alloc

// #include <stdlib.h>
import "C"

import "unsafe"

// The bare baseline: one cgo call to malloc and one to free, with nothing
// around them. Every native allocator here pays at least this much.
// (cgo cannot be used in _test.go files, hence this file.)

func cMalloc(n int) unsafe.Pointer { return C.malloc(C.size_t(n)) }

func cFree(p unsafe.Pointer) { C.free(p) }
