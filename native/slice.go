package native

import (
	"fmt"
	"math"
	"reflect"
	"unsafe"

	"github.com/membridge/membridge/internal/pointerfree"
	"github.com/membridge/membridge/tracker"
)

// A Slice is n values of type T in C memory, owned like a Buffer. T must
// hold no Go pointers (no pointers, strings, slices, maps, channels,
// functions or interfaces, directly or in fields): cgo forbids Go pointers
// in C memory, and the garbage collector would not see them there.
//
// Copies of a Slice value share its buffer (the one handle): freeing
// through either frees once, and the other then reports ErrFreed. A nil or
// zero Slice owns nothing: Len is 0, Values and Ptr are nil, Buffer is nil,
// Free and Close on nil do nothing, and Free, Close and Move on a zero
// Slice return an error wrapping ErrInvalidArgument.
type Slice[T any] struct {
	buf *Buffer
}

// AllocSliceZeroed returns n zeroed values of type T in C memory under tag.
func AllocSliceZeroed[T any](tag string, n int) (*Slice[T], error) {
	return makeSlice[T](tag, n, fillZero)
}

// AllocSlice returns n uninitialised values of type T in C memory under
// tag (filled with 0xCD in the checked mode).
func AllocSlice[T any](tag string, n int) (*Slice[T], error) {
	f := fillNone
	if tracker.Checking() {
		f = fillJunk
	}
	return makeSlice[T](tag, n, f)
}

func makeSlice[T any](tag string, n int, f fill) (*Slice[T], error) {
	var zero T
	size := int(unsafe.Sizeof(zero))
	if err := checkPointerFree(reflect.TypeFor[T]()); err != nil {
		return nil, fmt.Errorf("native: slice of %d %T (tag %q): %w", n, zero, tag, err)
	}
	if n < 0 || (size > 0 && n > math.MaxInt/size) {
		return nil, fmt.Errorf("native: slice of %d %T of %d bytes each (tag %q): %w", n, zero, size, tag, ErrInvalidSize)
	}
	b, err := alloc(KindCHeap, tag, n*size, f, allocOptions{align: int(unsafe.Alignof(zero))})
	if err != nil {
		return nil, err
	}
	return &Slice[T]{buf: b}, nil
}

// Len returns the number of values.
func (s *Slice[T]) Len() int {
	if s == nil || s.buf == nil {
		return 0
	}
	var zero T
	if size := int(unsafe.Sizeof(zero)); size > 0 {
		return s.buf.n / size
	}
	return 0
}

// Values returns the memory as a Go slice, valid until Free or Move. It
// panics like Buffer.Bytes on a slice that is not live.
//
// As with Buffer.Bytes, the Go slice does not keep the memory alive: a
// *Slice dropped while its values are still in use is freed by the safety
// net under them. Keep the *Slice reachable until the last use (Free after
// it, or runtime.KeepAlive(s)).
func (s *Slice[T]) Values() []T {
	if s == nil || s.buf == nil {
		return nil
	}
	p := s.buf.Ptr()
	return unsafe.Slice((*T)(p), s.Len())
}

// Ptr returns the address of the first value, for passing to C. Keep s
// reachable until C is done with it (see Values).
func (s *Slice[T]) Ptr() unsafe.Pointer {
	if s == nil {
		return nil
	}
	return s.buf.Ptr()
}

// Buffer returns the slice's memory as an untyped buffer. It is the same
// handle: freeing either frees both.
func (s *Slice[T]) Buffer() *Buffer {
	if s == nil {
		return nil
	}
	return s.buf
}

// Free gives the memory back, like Buffer.Free, with the same options for
// views still out on its Buffer.
func (s *Slice[T]) Free(opts ...FreeOption) error {
	if s == nil {
		return nil
	}
	if s.buf == nil {
		return s.zeroError("free")
	}
	return s.buf.Free(opts...)
}

func (s *Slice[T]) zeroError(op string) error {
	var zero T
	return fmt.Errorf("native: %s of a zero Slice[%T] (make slices with AllocSliceZeroed or AllocSlice): %w", op, zero, ErrInvalidArgument)
}

// Close is Free, for io.Closer.
func (s *Slice[T]) Close() error { return s.Free() }

// Move hands the memory to a new slice and invalidates s.
func (s *Slice[T]) Move() (*Slice[T], error) {
	if s == nil || s.buf == nil {
		return nil, s.zeroError("move")
	}
	b, err := s.buf.Move()
	if err != nil {
		return nil, err
	}
	return &Slice[T]{buf: b}, nil
}

// CheckPointerFree returns nil if values of type t hold no Go pointers, and
// otherwise an error wrapping ErrPointerType that names the first field
// that does.
func CheckPointerFree(t reflect.Type) error {
	if err := checkPointerFree(t); err != nil {
		return fmt.Errorf("native: %w", err)
	}
	return nil
}

// checkPointerFree is CheckPointerFree without the package prefix, for
// the package's own errors to wrap.
func checkPointerFree(t reflect.Type) error { return pointerfree.Check(t) }
