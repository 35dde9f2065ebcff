package keptslice

import (
	"runtime"
	"unsafe"

	"github.com/membridge/membridge/cuda"
	"github.com/membridge/membridge/native"
)

func cfunc(p unsafe.Pointer, n int) {}

// True positives.

func returnsSlice() []byte {
	b, _ := native.Alloc("x", 10) //membridge:ignore leak the test is about the slice
	return b.Bytes()              // want `keptslice: the memory of b \(from Bytes\(\) at kept.go:17\) is used after the last use of b \(made by native.Alloc at kept.go:16\)`
}

func pointerToC() {
	b, _ := native.Alloc("x", 10) //membridge:ignore leak the test is about the slice
	p := b.Ptr()
	n := b.Len()
	cfunc(p, n) // want `keptslice: the memory of b \(from Ptr\(\)`
}

func pinned(c *cuda.Context) []float32 {
	p, _ := c.AllocPinned("x", 16)       //membridge:ignore leak the test is about the slice
	return cuda.PinnedValues[float32](p) // want `keptslice: the memory of p`
}

// True negatives.

func keptAlive() {
	b, _ := native.Alloc("x", 10) //membridge:ignore leak the test shows KeepAlive, not Free
	p := b.Ptr()
	cfunc(p, 10)
	runtime.KeepAlive(b)
}

func freedAfter() {
	b, _ := native.Alloc("x", 10)
	p := b.Ptr()
	cfunc(p, 10)
	b.Free()
}

func usedAfter() {
	b, _ := native.Alloc("x", 10) //membridge:ignore leak the test is about the slice
	s := b.Bytes()
	s[0] = 1
	_ = b.Len()
}

type holder struct{ b *native.Buffer }

func escapes(h *holder) []byte {
	b, _ := native.Alloc("x", 10)
	h.b = b
	return b.Bytes()
}
