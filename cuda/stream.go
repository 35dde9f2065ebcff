package cuda

import (
	"fmt"
)

// A Stream is a queue of device work that runs in order. Work on different
// streams may overlap; the context's default stream orders against all of
// them. Create one with Context.NewStream and end it with Close. A nil or
// zero Stream carries no work: every method fails with ErrInvalidArgument
// (Close on nil does nothing).
type Stream struct {
	ctx    *Context
	h      uintptr // CUstream; 0 for the default stream
	closed bool    // guarded by ctx.mu (written under its exclusive lock)
}

// NewStream creates a stream. Its work orders after earlier work on the
// default stream, and the default stream's after it (a blocking stream).
func (c *Context) NewStream() (*Stream, error) {
	if err := c.enter("new stream"); err != nil {
		return nil, err
	}
	defer c.exit()
	h, err := drvStreamCreate(c.h)
	if err != nil {
		return nil, fmt.Errorf("cuda: new stream on device %d: %w", c.dev.Ordinal, err)
	}
	s := &Stream{ctx: c, h: h}
	c.objects.Lock()
	c.objects.streams[s] = struct{}{}
	c.objects.Unlock()
	return s, nil
}

// handle is the CUstream to free on: 0 when s is nil (plain allocations)
// or closed, since the default stream orders after every stream.
func (s *Stream) handle() uintptr {
	if s == nil || s.closed {
		return 0
	}
	return s.h
}

// Context returns the stream's context; nil for a nil or zero Stream.
func (s *Stream) Context() *Context {
	if s == nil {
		return nil
	}
	return s.ctx
}

// usable checks that s can carry work for context c. The caller holds c.mu.
func (s *Stream) usable(c *Context, op string) error {
	switch {
	case s == nil:
		return fmt.Errorf("cuda: %s on a nil stream: %w", op, ErrInvalidArgument)
	case s.ctx != c:
		return fmt.Errorf("cuda: %s: stream of device %d used with context of device %d: %w", op, s.ctx.dev.Ordinal, c.dev.Ordinal, ErrWrongContext)
	case s.closed:
		return fmt.Errorf("cuda: %s on a closed stream: %w", op, ErrClosed)
	}
	return nil
}

// enter is Context.enter plus the checks on the stream itself.
func (s *Stream) enter(op string) error {
	if s == nil {
		return fmt.Errorf("cuda: %s on a nil stream: %w", op, ErrInvalidArgument)
	}
	if err := s.ctx.enter(op); err != nil {
		return err
	}
	if s.closed {
		s.ctx.exit()
		return fmt.Errorf("cuda: %s on a closed stream: %w", op, ErrClosed)
	}
	return nil
}

// Alloc returns n bytes of uninitialised device memory, stream-ordered: the
// memory may be used by work queued on s after this call (and by other
// streams, which then wait for s), and its Free is ordered on s. It uses
// the device's memory pool where the device supports one, and plain
// allocation otherwise. Out of memory it relieves and retries once like
// Context.Alloc.
func (s *Stream) Alloc(tag string, n int) (*DeviceBuffer, error) {
	if s == nil {
		return nil, fmt.Errorf("cuda: alloc on a nil stream: %w", ErrInvalidArgument)
	}
	return s.ctx.alloc(tag, n, false, s)
}

// AllocZeroed is Alloc with the memory set to zero, stream-ordered.
func (s *Stream) AllocZeroed(tag string, n int) (*DeviceBuffer, error) {
	if s == nil {
		return nil, fmt.Errorf("cuda: alloc on a nil stream: %w", ErrInvalidArgument)
	}
	return s.ctx.alloc(tag, n, true, s)
}

// AllocSliceOn returns n uninitialised values of type T, stream-ordered on
// s like Stream.Alloc.
func AllocSliceOn[T any](s *Stream, tag string, n int) (*DeviceSlice[T], error) {
	if s == nil {
		return nil, fmt.Errorf("cuda: alloc on a nil stream: %w", ErrInvalidArgument)
	}
	return allocSlice[T](nil, tag, n, false, s)
}

// Synchronize waits until all work queued on s has finished.
func (s *Stream) Synchronize() error {
	if err := s.enter("synchronize stream"); err != nil {
		return err
	}
	defer s.ctx.exit()
	if err := drvStreamSync(s.ctx.h, s.h); err != nil {
		return fmt.Errorf("cuda: synchronize stream: %w", err)
	}
	return nil
}

// Record returns a new event recorded at the current end of s: it
// completes when the work queued so far has finished.
func (s *Stream) Record() (*Event, error) {
	if err := s.enter("record event"); err != nil {
		return nil, err
	}
	defer s.ctx.exit()
	h, err := drvEventCreate(s.ctx.h)
	if err != nil {
		return nil, fmt.Errorf("cuda: create event: %w", err)
	}
	if err := drvEventRecord(s.ctx.h, h, s.h); err != nil {
		_ = drvEventDestroy(s.ctx.h, h)
		return nil, fmt.Errorf("cuda: record event: %w", err)
	}
	e := &Event{ctx: s.ctx, h: h}
	s.ctx.objects.Lock()
	s.ctx.objects.events[e] = struct{}{}
	s.ctx.objects.Unlock()
	return e, nil
}

// Wait makes work queued on s from now on wait until e completes.
func (s *Stream) Wait(e *Event) error {
	if err := s.enter("wait for event"); err != nil {
		return err
	}
	defer s.ctx.exit()
	if err := e.usable(s.ctx); err != nil {
		return err
	}
	if err := drvStreamWaitEvent(s.ctx.h, s.h, e.h); err != nil {
		return fmt.Errorf("cuda: stream wait for event: %w", err)
	}
	return nil
}

// Close destroys the stream after the work queued on it. Memory allocated
// on it stays valid; its frees are then ordered on the default stream.
// The device memory the context cached from frees on s goes back to the
// driver first (after s's work, which Close then waits for). The
// default stream cannot be closed: Close on it does nothing.
func (s *Stream) Close() error {
	if s == nil {
		return nil
	}
	if s.ctx == nil {
		return fmt.Errorf("cuda: close of a zero Stream (make streams with NewStream): %w", ErrInvalidArgument)
	}
	if s.h == 0 {
		return nil
	}
	c := s.ctx
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || s.closed {
		return fmt.Errorf("cuda: close stream: %w", ErrClosed)
	}
	c.objects.Lock()
	delete(c.objects.streams, s)
	c.objects.Unlock()
	err := c.cache.dropStream(s)
	if e := s.destroyLocked(); err == nil {
		err = e
	}
	return err
}

// destroyLocked destroys the stream; the caller holds c.mu exclusively.
func (s *Stream) destroyLocked() error {
	s.closed = true
	if err := drvStreamDestroy(s.ctx.h, s.h); err != nil {
		return fmt.Errorf("cuda: destroy stream: %w", err)
	}
	return nil
}

// An Event marks a point in a stream's work. Make one with Stream.Record;
// a nil or zero Event fails every method with ErrInvalidArgument (Close on
// nil does nothing).
type Event struct {
	ctx    *Context
	h      uintptr
	closed bool // guarded by ctx.mu
}

func (e *Event) usable(c *Context) error {
	switch {
	case e == nil:
		return fmt.Errorf("cuda: nil event: %w", ErrInvalidArgument)
	case e.ctx != c:
		return fmt.Errorf("cuda: event of device %d used with context of device %d: %w", e.ctx.dev.Ordinal, c.dev.Ordinal, ErrWrongContext)
	case e.closed:
		return fmt.Errorf("cuda: event: %w", ErrClosed)
	}
	return nil
}

// Synchronize waits until the event completes.
func (e *Event) Synchronize() error {
	if e == nil {
		return fmt.Errorf("cuda: nil event: %w", ErrInvalidArgument)
	}
	if err := e.ctx.enter("synchronize event"); err != nil {
		return err
	}
	defer e.ctx.exit()
	if err := e.usable(e.ctx); err != nil {
		return err
	}
	if err := drvEventSync(e.ctx.h, e.h); err != nil {
		return fmt.Errorf("cuda: synchronize event: %w", err)
	}
	return nil
}

// Done reports whether the event has completed, without waiting.
func (e *Event) Done() (bool, error) {
	if e == nil {
		return false, fmt.Errorf("cuda: nil event: %w", ErrInvalidArgument)
	}
	if err := e.ctx.enter("query event"); err != nil {
		return false, err
	}
	defer e.ctx.exit()
	if err := e.usable(e.ctx); err != nil {
		return false, err
	}
	done, err := drvEventQuery(e.ctx.h, e.h)
	if err != nil {
		return false, fmt.Errorf("cuda: query event: %w", err)
	}
	return done, nil
}

// Close destroys the event. It is idempotent; the context's Close destroys
// events still open.
func (e *Event) Close() error {
	if e == nil {
		return nil
	}
	c := e.ctx
	if c == nil {
		return fmt.Errorf("cuda: close of a zero Event (make events with Stream.Record): %w", ErrInvalidArgument)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e.closed || c.closed {
		return nil
	}
	c.objects.Lock()
	delete(c.objects.events, e)
	c.objects.Unlock()
	return e.destroyLocked()
}

// destroyLocked destroys the event; the caller holds c.mu exclusively.
func (e *Event) destroyLocked() error {
	e.closed = true
	if err := drvEventDestroy(e.ctx.h, e.h); err != nil {
		return fmt.Errorf("cuda: destroy event: %w", err)
	}
	return nil
}
