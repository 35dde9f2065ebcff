// Package native is a stub of membridge's native package for the analyzers'
// tests: the same signatures (TestStubsMatchTheRealAPI checks them), no
// bodies worth running.
package native

import (
	"context"
	"unsafe"
)

type AllocOption interface{ applyAlloc() }

type FreeOption interface{ applyFree() }

func RevokeBorrows() FreeOption { return nil }

func WaitForBorrows(ctx context.Context) FreeOption { return nil }

type Deleter struct{}

func FreeDeleter() Deleter { return Deleter{} }

type Buffer struct{ p unsafe.Pointer }

func Alloc(tag string, n int, opts ...AllocOption) (*Buffer, error)       { return &Buffer{}, nil }
func AllocZeroed(tag string, n int, opts ...AllocOption) (*Buffer, error) { return &Buffer{}, nil }
func AllocContext(ctx context.Context, tag string, n int, opts ...AllocOption) (*Buffer, error) {
	return &Buffer{}, nil
}
func Adopt(tag string, p unsafe.Pointer, n int, del Deleter) (*Buffer, error) { return &Buffer{}, nil }

func (b *Buffer) Bytes() []byte                           { return nil }
func (b *Buffer) Ptr() unsafe.Pointer                     { return nil }
func (b *Buffer) Len() int                                { return 0 }
func (b *Buffer) Err() error                              { return nil }
func (b *Buffer) Free(opts ...FreeOption) error           { return nil }
func (b *Buffer) Close() error                            { return nil }
func (b *Buffer) Move() (*Buffer, error)                  { return b, nil }
func (b *Buffer) HandToC() (unsafe.Pointer, error)        { return nil, nil }
func (b *Buffer) Retain() error                           { return nil }
func (b *Buffer) Release() error                          { return nil }
func (b *Buffer) View(off, n int) (*View, error)          { return &View{}, nil }
func (b *Buffer) ViewMut(off, n int) (*View, error)       { return &View{}, nil }
func (b *Buffer) ReadAt(p []byte, off int64) (int, error) { return 0, nil }

type View struct{}

func (v *View) Bytes() []byte       { return nil }
func (v *View) Ptr() unsafe.Pointer { return nil }
func (v *View) Release() error      { return nil }

type Slice[T any] struct{ b *Buffer }

func AllocSliceZeroed[T any](tag string, n int) (*Slice[T], error) { return &Slice[T]{}, nil }
func AllocSlice[T any](tag string, n int) (*Slice[T], error)       { return &Slice[T]{}, nil }

func (s *Slice[T]) Values() []T                   { return nil }
func (s *Slice[T]) Ptr() unsafe.Pointer           { return nil }
func (s *Slice[T]) Len() int                      { return 0 }
func (s *Slice[T]) Buffer() *Buffer               { return s.b }
func (s *Slice[T]) Free(opts ...FreeOption) error { return nil }
func (s *Slice[T]) Close() error                  { return nil }
func (s *Slice[T]) Move() (*Slice[T], error)      { return s, nil }

type Arena struct{}

func NewArena(tag string, chunkSize int) *Arena             { return &Arena{} }
func (a *Arena) Alloc(n, align int) (unsafe.Pointer, error) { return nil, nil }
func (a *Arena) TryAlloc(n, align int) unsafe.Pointer       { return nil }
func (a *Arena) Free() error                                { return nil }
func (a *Arena) Reset()                                     {}
func MakeSliceIn[T any](a *Arena, n int) ([]T, error)       { return nil, nil }
func NewIn[T any](a *Arena) (*T, error)                     { return nil, nil }
