package arena

// #include <stdlib.h>
import "C"

import "unsafe"

// cgo cannot be used in _test.go files, hence this file.

func cMalloc(n int) unsafe.Pointer { return C.malloc(C.size_t(n)) }

func cFree(p unsafe.Pointer) { C.free(p) }

// slab is the floor an arena is measured against: one C allocation and a
// bump pointer through it that starts over at the end, with no checks
// beyond the bound.
type slab struct {
	base unsafe.Pointer
	off  int
	size int
}

func newSlab(size int) *slab { return &slab{base: cMalloc(size), size: size} }

func (s *slab) alloc(n int) unsafe.Pointer {
	if s.off+n > s.size {
		s.off = 0
	}
	p := unsafe.Add(s.base, s.off)
	s.off += n
	return p
}

// allocCall is alloc behind a function call, as an allocator a package
// exports is called when it is too large for the compiler to inline (the
// arena's Alloc is: its slow path is a call).
//
//go:noinline
func (s *slab) allocCall(n int) unsafe.Pointer { return s.alloc(n) }

func (s *slab) free() { cFree(s.base) }
