package cuda

import (
	"fmt"
	"unsafe"
)

// Copies. Names follow one pattern: Clone* allocates the destination and
// copies into it, Copy* fills a destination that exists; HtoD is host to
// device, DtoH device to host, DtoD device to device. The plain forms
// complete before they return and order against all streams (the legacy
// default stream's rules); the forms ending in On are queued on a stream.
// Sizes must match exactly, in bytes: a mismatch is ErrSizeMismatch, and
// nothing is copied.
//
// Host memory may be Go memory ([]T of a pointer-free T) or C memory, for
// example a PinnedBuffer's Bytes. A stream-ordered copy from or to Go
// memory is safe: the driver stages pageable memory, so the call returns
// once the host side is no longer needed (HtoD) or has been written (DtoH).
// Only page-locked (pinned) memory lets the copy overlap with host work.

// CloneHtoD allocates a device slice on c under tag and copies src into it.
func CloneHtoD[T any](c *Context, tag string, src []T) (*DeviceSlice[T], error) {
	d, err := allocSlice[T](c, tag, len(src), false, nil)
	if err != nil {
		return nil, err
	}
	if err := CopyHtoD(d, src); err != nil {
		d.Free()
		return nil, err
	}
	return d, nil
}

// CloneHtoDOn allocates a device slice stream-ordered on s and queues the
// copy of src into it on s.
func CloneHtoDOn[T any](s *Stream, tag string, src []T) (*DeviceSlice[T], error) {
	if s == nil {
		return nil, fmt.Errorf("cuda: clone HtoD on a nil stream: %w", ErrInvalidArgument)
	}
	d, err := allocSlice[T](nil, tag, len(src), false, s)
	if err != nil {
		return nil, err
	}
	if err := CopyHtoDOn(s, d, src); err != nil {
		d.Free()
		return nil, err
	}
	return d, nil
}

// CopyHtoD copies src into dst.
func CopyHtoD[T any](dst DeviceMemory, src []T) error {
	return copyHtoD(nil, dst, src)
}

// CopyHtoDOn queues the copy of src into dst on s.
func CopyHtoDOn[T any](s *Stream, dst DeviceMemory, src []T) error {
	if s == nil {
		return fmt.Errorf("cuda: copy HtoD on a nil stream: %w", ErrInvalidArgument)
	}
	return copyHtoD(s, dst, src)
}

// CopyDtoH copies src into dst.
func CopyDtoH[T any](dst []T, src DeviceMemory) error {
	return copyDtoH(nil, dst, src)
}

// CopyDtoHOn queues the copy of src into dst on s. dst holds the data once
// s reaches the copy (Stream.Synchronize, or an event recorded after it).
func CopyDtoHOn[T any](s *Stream, dst []T, src DeviceMemory) error {
	if s == nil {
		return fmt.Errorf("cuda: copy DtoH on a nil stream: %w", ErrInvalidArgument)
	}
	return copyDtoH(s, dst, src)
}

// CloneDtoH returns a new Go slice holding src's values.
func CloneDtoH[T any](src *DeviceSlice[T]) ([]T, error) {
	if src == nil {
		return nil, fmt.Errorf("cuda: clone DtoH of a nil slice: %w", ErrInvalidArgument)
	}
	out := make([]T, src.Len())
	if err := CopyDtoH(out, src); err != nil {
		return nil, err
	}
	return out, nil
}

// CopyDtoD copies src into dst, both of the same context.
func CopyDtoD(dst, src DeviceMemory) error { return copyDtoD(nil, dst, src) }

// CopyDtoDOn queues the copy of src into dst on s.
func CopyDtoDOn(s *Stream, dst, src DeviceMemory) error {
	if s == nil {
		return fmt.Errorf("cuda: copy DtoD on a nil stream: %w", ErrInvalidArgument)
	}
	return copyDtoD(s, dst, src)
}

// CloneDtoD allocates a device slice like src under tag, on src's context,
// and copies src into it.
func CloneDtoD[T any](tag string, src *DeviceSlice[T]) (*DeviceSlice[T], error) {
	if src == nil {
		return nil, fmt.Errorf("cuda: clone DtoD of a nil slice: %w", ErrInvalidArgument)
	}
	d, err := allocSlice[T](src.buf.a.ctx, tag, src.Len(), false, nil)
	if err != nil {
		return nil, err
	}
	if err := CopyDtoD(d, src); err != nil {
		d.Free()
		return nil, err
	}
	return d, nil
}

// Fill sets every byte of dst to v (cuMemsetD8), ordered on the default
// stream: later copies and kernels on any stream of the context see it.
func Fill(dst DeviceMemory, v byte) error { return fill(nil, dst, v) }

// FillOn queues Fill on s.
func FillOn(s *Stream, dst DeviceMemory, v byte) error {
	if s == nil {
		return fmt.Errorf("cuda: fill on a nil stream: %w", ErrInvalidArgument)
	}
	return fill(s, dst, v)
}

// hostBytes checks T and returns src's address and size in bytes.
func hostBytes[T any](src []T) (unsafe.Pointer, int, error) {
	size, err := elemSize[T]()
	if err != nil {
		return nil, 0, err
	}
	return unsafe.Pointer(unsafe.SliceData(src)), len(src) * size, nil
}

// operands are the device ranges of one operation: begin checks them and
// enters their context, end leaves it. The first four are kept in place,
// so an operation that keeps its operands on its stack makes no Go
// allocation for them (slices into the arrays would move them to the heap).
type operands struct {
	c     *Context
	n     int
	as    [4]*allocation
	ps    [4]DevicePtr
	moreA []*allocation // past the fourth
	moreP []DevicePtr
}

func (o *operands) add(a *allocation, p DevicePtr) {
	if o.n < len(o.as) {
		o.as[o.n], o.ps[o.n] = a, p
	} else {
		o.moreA, o.moreP = append(o.moreA, a), append(o.moreP, p)
	}
	o.n++
}

// alloc returns the allocation of the i-th range.
func (o *operands) alloc(i int) *allocation {
	if i < len(o.as) {
		return o.as[i]
	}
	return o.moreA[i-len(o.as)]
}

// ptr returns the device address of the i-th range.
func (o *operands) ptr(i int) DevicePtr {
	if i < len(o.ps) {
		return o.ps[i]
	}
	return o.moreP[i-len(o.ps)]
}

// begin checks device ranges for an operation on stream s (nil: the
// synchronous form), enters their context (they must share one) and makes s
// ready to use them. want, when not negative, is the size the first range
// must have. On success the caller must call end.
func (o *operands) begin(op string, s *Stream, want int, mems ...DeviceMemory) error {
	var c *Context
	for i, m := range mems {
		if m == nil {
			return fmt.Errorf("cuda: %s: nil device memory: %w", op, ErrInvalidArgument)
		}
		a, off, n, err := m.span(op)
		if err != nil {
			return err
		}
		if i == 0 && want >= 0 && n != want {
			return fmt.Errorf("cuda: %s: %d bytes of host memory, %d of device memory: %w", op, want, n, ErrSizeMismatch)
		}
		if c == nil {
			c = a.ctx
		} else if a.ctx != c {
			return fmt.Errorf("cuda: %s: memory of device %d with memory of device %d: %w", op, c.dev.Ordinal, a.ctx.dev.Ordinal, ErrWrongContext)
		}
		o.add(a, a.ptr+DevicePtr(off))
	}
	if c == nil {
		return fmt.Errorf("cuda: %s: no device memory: %w", op, ErrInvalidArgument)
	}
	if err := c.enter(op); err != nil {
		return err
	}
	fail := func(err error) error {
		c.exit()
		return err
	}
	for i := range o.n {
		if o.alloc(i).done.Load() { // the context is open: a Free ran since span
			return fail(fmt.Errorf("cuda: %s of memory freed during the call: %w", op, ErrFreed))
		}
	}
	if s != nil {
		if err := s.usable(c, op); err != nil {
			return fail(err)
		}
		for i := range o.n {
			if err := o.alloc(i).usedOn(s, false); err != nil {
				return fail(fmt.Errorf("cuda: %s: order stream after the memory's stream: %w", op, err))
			}
		}
	}
	o.c = c
	return nil
}

// end records the uses on s (after the work was queued) and leaves the
// context.
func (o *operands) end(s *Stream, err error) error {
	if s != nil {
		for i := range o.n {
			if e := o.alloc(i).usedOn(s, true); err == nil {
				err = e
			}
		}
	}
	o.c.exit()
	return err
}

func copyHtoD[T any](s *Stream, dst DeviceMemory, src []T) error {
	p, n, err := hostBytes(src)
	if err != nil {
		return err
	}
	var o operands
	if err := o.begin("copy HtoD", s, n, dst); err != nil {
		return err
	}
	if n > 0 {
		err = drvCopyHtoD(o.c.h, o.ptr(0), p, n, s.handle(), s != nil)
	}
	if err = o.end(s, err); err != nil {
		return fmt.Errorf("cuda: copy HtoD of %d bytes: %w", n, err)
	}
	return nil
}

func copyDtoH[T any](s *Stream, dst []T, src DeviceMemory) error {
	p, n, err := hostBytes(dst)
	if err != nil {
		return err
	}
	var o operands
	if err := o.begin("copy DtoH", s, n, src); err != nil {
		return err
	}
	if n > 0 {
		err = drvCopyDtoH(o.c.h, p, o.ptr(0), n, s.handle(), s != nil)
	}
	if err = o.end(s, err); err != nil {
		return fmt.Errorf("cuda: copy DtoH of %d bytes: %w", n, err)
	}
	return nil
}

func copyDtoD(s *Stream, dst, src DeviceMemory) error {
	if dst == nil || src == nil {
		return fmt.Errorf("cuda: copy DtoD: nil device memory: %w", ErrInvalidArgument)
	}
	if dst.ByteLen() != src.ByteLen() {
		return fmt.Errorf("cuda: copy DtoD: %d bytes into %d: %w", src.ByteLen(), dst.ByteLen(), ErrSizeMismatch)
	}
	var o operands
	if err := o.begin("copy DtoD", s, -1, dst, src); err != nil {
		return err
	}
	n := src.ByteLen()
	var err error
	if n > 0 {
		err = drvCopyDtoD(o.c.h, o.ptr(0), o.ptr(1), n, s.handle(), s != nil)
	}
	if err = o.end(s, err); err != nil {
		return fmt.Errorf("cuda: copy DtoD of %d bytes: %w", n, err)
	}
	return nil
}

func fill(s *Stream, dst DeviceMemory, v byte) error {
	var o operands
	if err := o.begin("fill", s, -1, dst); err != nil {
		return err
	}
	n := dst.ByteLen()
	var err error
	if n > 0 {
		err = drvMemset(o.c.h, o.ptr(0), v, n, s.handle(), s != nil)
	}
	if err = o.end(s, err); err != nil {
		return fmt.Errorf("cuda: fill %d bytes: %w", n, err)
	}
	return nil
}
