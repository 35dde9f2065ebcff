// Package cuda is a stub of membridge's cuda package for the analyzers'
// tests (TestStubsMatchTheRealAPI checks the signatures).
package cuda

type DevicePtr uintptr

type DeviceMemory interface{ ByteLen() int }

type Context struct{}

func Open(ordinal int, opts ...Option) (*Context, error) { return &Context{}, nil }

type Option interface{ apply() }

func (c *Context) Alloc(tag string, n int) (*DeviceBuffer, error)       { return &DeviceBuffer{}, nil }
func (c *Context) AllocZeroed(tag string, n int) (*DeviceBuffer, error) { return &DeviceBuffer{}, nil }
func (c *Context) AllocPinned(tag string, n int) (*PinnedBuffer, error) { return &PinnedBuffer{}, nil }
func (c *Context) NewStream() (*Stream, error)                          { return &Stream{}, nil }
func (c *Context) Close() error                                         { return nil }

type Stream struct{}

func (s *Stream) Alloc(tag string, n int) (*DeviceBuffer, error) { return &DeviceBuffer{}, nil }
func (s *Stream) Context() *Context                              { return nil }
func (s *Stream) Close() error                                   { return nil }

type DeviceBuffer struct{}

func (b *DeviceBuffer) ByteLen() int                  { return 0 }
func (b *DeviceBuffer) Len() int                      { return 0 }
func (b *DeviceBuffer) DevicePtr() (DevicePtr, error) { return 0, nil }
func (b *DeviceBuffer) Context() *Context             { return nil }
func (b *DeviceBuffer) Free() error                   { return nil }
func (b *DeviceBuffer) Close() error                  { return nil }

type DeviceSlice[T any] struct{ buf *DeviceBuffer }

func AllocSlice[T any](c *Context, tag string, n int) (*DeviceSlice[T], error) {
	return &DeviceSlice[T]{}, nil
}
func CloneHtoD[T any](c *Context, tag string, src []T) (*DeviceSlice[T], error) {
	return &DeviceSlice[T]{}, nil
}
func CloneDtoH[T any](src *DeviceSlice[T]) ([]T, error) { return nil, nil }
func CopyHtoD[T any](dst DeviceMemory, src []T) error   { return nil }
func (s *DeviceSlice[T]) Buffer() *DeviceBuffer         { return s.buf }
func (s *DeviceSlice[T]) ByteLen() int                  { return 0 }
func (s *DeviceSlice[T]) Len() int                      { return 0 }
func (s *DeviceSlice[T]) Free() error                   { return nil }

type PinnedBuffer struct{}

func (p *PinnedBuffer) Bytes() []byte         { return nil }
func (p *PinnedBuffer) Free() error           { return nil }
func PinnedValues[T any](p *PinnedBuffer) []T { return nil }
