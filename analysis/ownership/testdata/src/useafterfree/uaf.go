package useafterfree

import (
	"errors"
	"testing"

	"github.com/membridge/membridge/cuda"
	"github.com/membridge/membridge/handle"
	"github.com/membridge/membridge/native"
	"github.com/stretchr/testify/assert"
)

func use([]byte) {}
func ptr(p any)  {}

// True positives.

func methodAfterFree() {
	b, _ := native.Alloc("x", 10)
	b.Free()
	_ = b.Len() // want `useafterfree: b.Len: b \(made by native.Alloc at uaf.go:19\) is used after Free at uaf.go:20`
}

func sliceAfterFree() {
	b, _ := native.Alloc("x", 10)
	p := b.Bytes()
	b.Free()
	p[0] = 1 // want `useafterfree: the memory of b \(from Bytes\(\) at uaf.go:26\) is used after b.Free at uaf.go:27`
}

func afterMove() *native.Buffer {
	b, _ := native.Alloc("x", 10)
	nb, err := b.Move()
	if err != nil {
		b.Free()
		return nil
	}
	use(b.Bytes()) // want `useafterfree: b.Bytes: .* used after Move`
	return nb
}

func onOnePath(cond bool) {
	s, _ := native.AllocSliceZeroed[int]("x", 1)
	v := s.Values()
	if cond {
		s.Free()
	}
	v[0] = 1 // want `useafterfree: the memory of s`
	s.Free()
}

func devicePtr(c *cuda.Context) {
	d, _ := c.Alloc("x", 8)
	p, _ := d.DevicePtr()
	d.Free()
	ptr(p) // want `useafterfree: the memory of d`
}

func arena() {
	a := native.NewArena("x", 0)
	xs, _ := native.MakeSliceIn[int64](a, 4)
	a.Free()
	xs[0] = 1 // want `useafterfree: the memory of a \(from MakeSliceIn`
}

func handleAfterRelease() {
	h, _ := handle.New("cb", 1)
	h.Release()
	ptr(h.Pointer()) // want `useafterfree: h.Pointer`
}

// True negatives.

func errAfterFree() error {
	b, _ := native.Alloc("x", 10)
	b.Free()
	return b.Err()
}

func freeFailed() {
	b, _ := native.Alloc("x", 10)
	if err := b.Free(); err != nil {
		_ = b.Len() // Free failed: b is still b's
	}
}

func moveFailed() {
	b, _ := native.Alloc("x", 10)
	nb, err := b.Move()
	if err != nil {
		use(b.Bytes())
		b.Free()
		return
	}
	nb.Free()
}

func loop(n int) {
	for range n {
		b, _ := native.Alloc("x", 10)
		use(b.Bytes())
		b.Free()
	}
}

func deferredFree() {
	b, _ := native.Alloc("x", 10)
	defer b.Free()
	use(b.Bytes())
}

func freedLast(cond bool) {
	b, _ := native.Alloc("x", 10)
	if cond {
		b.Free()
		return
	}
	use(b.Bytes())
	b.Free()
}

func shared() {
	b, _ := native.Alloc("x", 10)
	b.Retain()
	b.Release()
	use(b.Bytes())
	b.Release()
}

func closureAfterFree() func() int {
	b, _ := native.Alloc("x", 10)
	b.Free()
	return func() int { return len(b.Err().Error()) } // making a closure is no use
}

func freeRefused(t *testing.T) {
	b, _ := native.Alloc("x", 10)
	assert.ErrorIs(t, b.Free(), errors.ErrUnsupported)
	use(b.Bytes()) // the Free was refused, as the test checked
	b.Free()
}

func afterReset() {
	a := native.NewArena("x", 0)
	defer a.Free()
	p, _ := native.NewIn[[8]int64](a)
	p[0] = 1
	a.Reset()
	p[1] = 2 // want `useafterfree: the memory of a \(from NewIn\[\[8\]int64\]\(\) at uaf.go:\d+\) is used after a.Reset at uaf.go:\d+, which ended it`
	q, _ := native.NewIn[int64](a)
	*q = 3 // taken after the Reset: fine
}

func rangeAfterFree() int {
	b, _ := native.Alloc("x", 10)
	s := b.Bytes()
	b.Free()
	n := 0
	for i := range s { // want `useafterfree: the memory of b`
		n += i
	}
	return n
}

// Implicit operations of nested range loops have no position, nor have the
// blocks around them: the use is reported at the innermost loop, never with
// no position (which no //membridge:ignore could silence).
func nestedRangeAfterReset() {
	a := native.NewArena("x", 0)
	defer a.Free()
	s, _ := native.MakeSliceIn[int64](a, 4)
	a.Reset()
	for range 3 {
		for range 3 {
			for _, v := range s { // want `useafterfree: the memory of a \(from MakeSliceIn\[int64\]\(\) at uaf.go:\d+\) is used after a.Reset`
				_ = v
			}
		}
	}
}

func nestedRangeAfterFree() int {
	b, _ := native.Alloc("x", 10)
	s := b.Bytes()
	b.Free()
	n := 0
	for range 3 {
		for range 3 {
			for i := range s { // want `useafterfree: the memory of b \(from Bytes\(\) at uaf.go:\d+\) is used after b.Free`
				n += i
			}
		}
	}
	return n
}

// A variable in a loop that takes a handle from one of two constructors:
// after the Free at the end of an iteration, the next one uses the handle
// the other constructor made, no freed one. A use after the Free in the
// same iteration is one.
func twoConstructorsInALoop(c *cuda.Context, s *cuda.Stream) {
	for i := range 100 {
		var b *cuda.DeviceBuffer
		var err error
		if i%2 == 0 {
			b, err = c.Alloc("x", 16)
		} else {
			b, err = s.Alloc("x", 16)
		}
		if err != nil {
			return
		}
		_ = b.Len()
		p, _ := b.DevicePtr()
		_ = p
		b.Free()
	}
}

func twoConstructorsUseAfterFree(c *cuda.Context, s *cuda.Stream, n int) {
	for i := range n {
		var b *native.Buffer
		if i%2 == 0 {
			b, _ = native.Alloc("x", 16)
		} else {
			b, _ = native.AllocZeroed("x", 16)
		}
		p := b.Bytes()
		use(p)
		b.Free()
		_ = b.Len() // want `useafterfree: b.Len: b \(made by native.Alloc at uaf.go:\d+\) is used after Free`
	}
}
