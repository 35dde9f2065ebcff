package cuda

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"runtime"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/membridge/membridge/internal/pointerfree"
	"github.com/membridge/membridge/tracker"
	"github.com/membridge/membridge/tracker/stacks"
)

// A DevicePtr is a device address, for passing to other CUDA libraries. In
// the host backend it is the address of the emulating C memory; Go code must
// not dereference it either way.
type DevicePtr uintptr

type allocKind uint8

const (
	allocPlain  allocKind = iota // cuMemAlloc
	allocPool                    // cuMemAllocAsync on the device's pool
	allocPinned                  // cuMemAllocHost
)

// An allocation is the memory behind a handle. The handle and the safety
// net's Reclaimer both point at it; it never points back at the handle, so
// a dropped handle can be found.
type allocation struct {
	ctx *Context
	// rec is the allocation's record. The handle's Free gives it back to
	// the ledger for reuse (tracker.Record.Retire) unless it keeps a stack
	// (traced): after Free only key, n and a traced rec may be read.
	rec  *tracker.Record
	key  tracker.Key    // kind, device and tag, valid after rec is reused
	ptr  DevicePtr      // device address (device kinds)
	host unsafe.Pointer // host address (pinned)
	n    int
	size int                     // the driver allocation's bytes: n, or its cache class
	home *Stream                 // the stream it was allocated on, and is freed on
	uses atomic.Pointer[useList] // nil until a second stream uses it

	prev, next *allocation // the context's live list

	kind   allocKind
	traced bool
	cached bool        // size is a cache class: the free may keep the block
	done   atomic.Bool // freed (by its handle, the safety net or Close): exactly one free happens
}

// A useList holds an allocation's uses on streams other than its home.
type useList struct {
	mu   sync.Mutex
	uses []streamUse
}

// useList returns a's list of uses, making it on the first use.
func (a *allocation) useList() *useList {
	if l := a.uses.Load(); l != nil {
		return l
	}
	a.uses.CompareAndSwap(nil, new(useList))
	return a.uses.Load()
}

// committed fills in what a keeps of its committed record.
func (a *allocation) committed(rec *tracker.Record) {
	a.rec, a.key, a.traced = rec, rec.Key(), rec.Stack() != nil
}

// describe names the allocation for an error: its tag and, when the ledger
// kept them, where it was allocated and freed. It reads rec only when the
// ledger keeps it (traced), so it is safe after Free.
func (a *allocation) describe() string {
	s := fmt.Sprintf("tag %q", a.key.Tag())
	if a.traced {
		s += sites(a.rec)
	}
	return s
}

// streamUse is the last recorded use of an allocation on a stream other
// than its home: its free waits for event.
type streamUse struct {
	stream *Stream
	event  uintptr
}

// Reclaim is the safety net's: it only queues the allocation to its
// context, which frees it on its next call.
func (a *allocation) Reclaim(*tracker.Record) { a.ctx.enqueue(a) }

// free gives the memory back to the driver, stream-ordered after recorded
// uses. The caller holds a.ctx.mu (shared or exclusive). Only the first call
// frees.
func (a *allocation) free() error {
	if !a.done.CompareAndSwap(false, true) {
		return nil
	}
	c := a.ctx
	c.unlink(a)
	var uses []streamUse
	if l := a.uses.Load(); l != nil {
		l.mu.Lock()
		uses, l.uses = l.uses, nil
		l.mu.Unlock()
	}
	var err error
	home := a.home.handle()
	// A block the cache keeps goes back in stream order, as a pool's does:
	// its stream waits for the uses on other streams, nobody waits here.
	keep := a.cached && !tracker.Checking() && c.cache.reserve(a.kind, a.size)
	for _, u := range uses {
		if err == nil {
			if a.kind == allocPool || keep {
				err = drvStreamWaitEvent(c.h, home, u.event)
			} else {
				err = drvEventSync(c.h, u.event)
			}
		}
		if e := drvEventDestroy(c.h, u.event); err == nil {
			err = e
		}
	}
	switch {
	case err != nil:
		// Freeing now could free memory a stream still uses: keep it.
		if keep {
			c.cache.unreserve(a.kind, a.size)
		}
	case keep:
		c.cache.put(a.kind, a.size, a.ptr, a.home)
	case a.n == 0:
	case a.kind == allocPinned:
		err = drvFreeHost(c.h, a.host)
	case a.kind == allocPool:
		err = drvFreeAsync(c.h, a.ptr, a.size, home)
	default:
		err = drvFree(c.h, a.ptr, a.size)
	}
	if err != nil {
		return fmt.Errorf("cuda: free %d bytes (tag %q) on device %d: %w", a.n, a.key.Tag(), c.dev.Ordinal, err)
	}
	return nil
}

// usedOn makes stream s safe to use a's memory and records the use, so the
// free waits for it. Work on the default stream, or on a's home stream,
// needs nothing: it is ordered already. The caller holds a.ctx.mu.
func (a *allocation) usedOn(s *Stream, after bool) error {
	if s == nil || s.h == 0 || s == a.home {
		return nil
	}
	c := a.ctx
	l := a.useList()
	l.mu.Lock()
	defer l.mu.Unlock()
	i := 0
	for i < len(l.uses) && l.uses[i].stream != s {
		i++
	}
	if !after {
		if i < len(l.uses) || a.home.handle() == 0 {
			return nil
		}
		// First use on s: s waits for what the home stream did so far
		// (the stream-ordered allocation, earlier writes).
		ev, err := drvEventCreate(c.h)
		if err != nil {
			return err
		}
		err = drvEventRecord(c.h, ev, a.home.handle())
		if err == nil {
			err = drvStreamWaitEvent(c.h, s.h, ev)
		}
		if e := drvEventDestroy(c.h, ev); err == nil {
			err = e
		}
		return err
	}
	if i == len(l.uses) {
		ev, err := drvEventCreate(c.h)
		if err != nil {
			return err
		}
		l.uses = append(l.uses, streamUse{stream: s, event: ev})
	}
	return drvEventRecord(c.h, l.uses[i].event, s.h)
}

// The states of a handle.
const (
	handleLive uint32 = iota
	handleFreed
)

// A DeviceBuffer owns n bytes of device memory. Create one with
// Context.Alloc, Context.AllocZeroed, Stream.Alloc or a Clone function; end
// it with Free. Methods are safe for concurrent use; the memory itself is
// not synchronised beyond stream order.
//
// A nil or zero DeviceBuffer owns no memory: Len is 0, Tag "", Record and
// Context nil, Free on nil does nothing, and every other use (Free of a
// zero one included) fails with ErrInvalidArgument. So does a copy of the
// struct (cp := *b, which go vet reports): use the *DeviceBuffer itself.
type DeviceBuffer struct {
	a     *allocation
	state atomic.Uint32
	self  *DeviceBuffer // the handle's own address: another in a copy
}

// DeviceMemory is device memory a copy or a kernel can use: a DeviceBuffer,
// a DeviceSlice, or a view of either.
type DeviceMemory interface {
	// ByteLen is the size of the range in bytes.
	ByteLen() int
	// span returns the allocation and the byte range, or why it cannot be
	// used (freed, closed).
	span(op string) (a *allocation, off, n int, err error)
}

// Alloc returns n bytes of uninitialised device memory under tag, from
// plain device allocation (cuMemAlloc). Out of device memory it asks the
// ledger's reliefs to evict membridge's caches, retries once, and then
// fails with an error wrapping ErrOutOfMemory.
func (c *Context) Alloc(tag string, n int) (*DeviceBuffer, error) {
	return c.alloc(tag, n, false, nil)
}

// AllocZeroed is Alloc with the memory set to zero.
func (c *Context) AllocZeroed(tag string, n int) (*DeviceBuffer, error) {
	return c.alloc(tag, n, true, nil)
}

// alloc is the package's one device allocation path. s nil: plain
// allocation; otherwise stream-ordered on s where the device has pools.
// The handle is made, and the ledger watches it, before the context is
// left, so a concurrent Close finds the record complete.
func (c *Context) alloc(tag string, n int, zero bool, s *Stream) (*DeviceBuffer, error) {
	if n < 0 {
		return nil, fmt.Errorf("cuda: alloc %d bytes (tag %q): %w", n, tag, ErrInvalidSize)
	}
	if err := c.enter("alloc"); err != nil {
		return nil, err
	}
	a := &allocation{ctx: c, n: n, home: s}
	kind := kindDevice
	if s != nil {
		if err := s.usable(c, "alloc"); err != nil {
			c.exit()
			return nil, err
		}
		if c.pool != 0 {
			a.kind, kind = allocPool, kindPool
		}
	}
	b := &DeviceBuffer{a: a}
	b.self = b
	req := tracker.Request{Kind: kind, Device: c.dev.Ordinal, Tag: tag, Bytes: int64(n)}
	rec, err := allocEntered(c, "alloc", b, req, a, func() (uintptr, error) {
		err := c.allocDevice(a, zero, s)
		return uintptr(a.ptr), err
	})
	if err != nil {
		return nil, fmt.Errorf("cuda: alloc %d bytes (tag %q) on device %d: %w", n, tag, c.dev.Ordinal, err)
	}
	a.committed(rec)
	c.link(a)
	c.exit()
	return b, nil
}

// allocDevice gets a's memory: a cached block its stream may use (s, or
// the default stream for a plain allocation), or a new one from the
// driver, of the request's cache class when the cache takes its size. The
// caller is in the context.
func (c *Context) allocDevice(a *allocation, zero bool, s *Stream) error {
	if a.n == 0 {
		return nil
	}
	size, cached := c.cache.class(a.n)
	if !cached {
		size = a.n
	}
	a.size, a.cached = size, cached
	if cached {
		on := s
		if on == nil {
			on = c.null
		}
		if p, ok := c.cache.take(a.kind, size, on); ok {
			a.ptr = p
			if !zero {
				return nil
			}
			err := drvMemset(c.h, p, 0, a.n, on.h, s != nil)
			if err != nil {
				// Give the block back to the cache's care: the
				// allocation failed, so nothing else frees it.
				if c.cache.reserve(a.kind, size) {
					c.cache.put(a.kind, size, p, on)
				} else {
					err = errors.Join(err, c.freeBlock(a.kind, p, size, on))
				}
				a.ptr = 0
			}
			return err
		}
	}
	var err error
	if a.kind == allocPool {
		a.ptr, err = drvAllocAsync(c.h, c.pool, size, zero, s.h)
	} else {
		a.ptr, err = drvAlloc(c.h, size, zero)
	}
	return err
}

// freeBlock gives a block of device memory back to the driver.
func (c *Context) freeBlock(kind allocKind, p DevicePtr, size int, s *Stream) error {
	if kind == allocPool {
		return drvFreeAsync(c.h, p, size, s.handle())
	}
	return drvFree(c.h, p, size)
}

// allocEntered runs the ledger's owner protocol (tracker.Allocate) for
// allocation a and its handle owner, in a context the caller entered: the
// driver call do runs inside the context, the ledger's relief after an
// out-of-memory outside it (the relief may free this context's memory, and
// entering drains what the safety net queued meanwhile), the retry inside
// again. It returns with the context entered when err is nil, left
// otherwise.
func allocEntered[T any](c *Context, op string, owner *T, req tracker.Request, a *allocation, do func() (uintptr, error)) (*tracker.Record, error) {
	entered := true
	rec, err := tracker.Allocate(owner, req, func() (uintptr, error) {
		if !entered { // the retry after the relief
			if err := c.enter(op); err != nil {
				return 0, err
			}
			entered = true
		}
		addr, err := do()
		if err != nil && errors.Is(err, ErrOutOfMemory) {
			c.exit()
			entered = false
		}
		return addr, err
	}, a)
	if err != nil && entered {
		c.exit()
	}
	return rec, err
}

// Len returns the size in bytes; it stays valid after Free. A nil buffer
// has length 0.
func (b *DeviceBuffer) Len() int {
	if b == nil || b.a == nil {
		return 0
	}
	return b.a.n
}

// ByteLen is Len, for DeviceMemory.
func (b *DeviceBuffer) ByteLen() int { return b.Len() }

// Tag returns the tag given at allocation.
func (b *DeviceBuffer) Tag() string {
	if b == nil || b.a == nil {
		return ""
	}
	return b.a.key.Tag()
}

// Snapshot returns what the ledger says of the buffer's allocation, as a
// value that stays valid after Free. Once the memory is freed (by Free, the
// safety net or Close) its record may be reused for another allocation
// (records that keep a stack excepted): Snapshot then returns a zero
// Snapshot for a record without a stack; also for a nil or zero buffer.
func (b *DeviceBuffer) Snapshot() tracker.Snapshot {
	if b == nil || b.a == nil {
		return tracker.Snapshot{}
	}
	return b.a.snapshot()
}

// snapshot is the handles' Snapshot.
func (a *allocation) snapshot() tracker.Snapshot {
	s := a.rec.Snapshot()
	if a.done.Load() && !a.traced {
		return tracker.Snapshot{} // s may be of another allocation
	}
	return s
}

// Context returns the context the memory belongs to.
func (b *DeviceBuffer) Context() *Context {
	if b == nil || b.a == nil {
		return nil
	}
	return b.a.ctx
}

// Pooled reports whether the memory came from the device's memory pool
// (stream-ordered allocation).
func (b *DeviceBuffer) Pooled() bool { return b != nil && b.a != nil && b.a.kind == allocPool }

// DevicePtr returns the device address, for other CUDA libraries. It fails
// like Err once the buffer is freed or its context closed.
func (b *DeviceBuffer) DevicePtr() (DevicePtr, error) {
	a, _, _, err := b.span("device pointer")
	if err != nil {
		return 0, err
	}
	return a.ptr, nil
}

// Err returns nil while the buffer can be used, and otherwise why not
// (ErrFreed, ErrClosed).
func (b *DeviceBuffer) Err() error {
	_, _, _, err := b.span("use")
	return err
}

func (b *DeviceBuffer) span(op string) (*allocation, int, int, error) {
	if b == nil {
		return nil, 0, 0, fmt.Errorf("cuda: %s of a nil buffer: %w", op, ErrInvalidArgument)
	}
	a := b.a
	if a == nil {
		return nil, 0, 0, zeroBuffer(op)
	}
	if b.self != b {
		return nil, 0, 0, copiedHandle(op, "DeviceBuffer", a)
	}
	if b.state.Load() != handleLive {
		return nil, 0, 0, fmt.Errorf("cuda: %s of freed buffer (%d bytes, %s): %w", op, a.n, a.describe(), ErrFreed)
	}
	if a.done.Load() { // freed, and not by its handle: by Close
		return nil, 0, 0, fmt.Errorf("cuda: %s of buffer (%d bytes, tag %q) whose context was closed: %w", op, a.n, a.key.Tag(), ErrClosed)
	}
	return a, 0, a.n, nil
}

// Free gives the memory back, ordered after the work on its stream and
// after recorded uses on other streams. It is idempotent: a second call
// returns an error wrapping ErrFreed, and of two concurrent calls exactly
// one frees. After the context was closed it returns an error wrapping
// ErrClosed (Close freed the memory). Free on a nil buffer returns nil.
func (b *DeviceBuffer) Free() error {
	if b == nil {
		return nil
	}
	a := b.a
	if a == nil {
		return zeroBuffer("free")
	}
	if b.self != b {
		return copiedHandle("free", "DeviceBuffer", a)
	}
	if !b.state.CompareAndSwap(handleLive, handleFreed) {
		return fmt.Errorf("cuda: free of freed buffer (%d bytes, %s): %w", a.n, a.describe(), ErrFreed)
	}
	defer runtime.KeepAlive(b) // until Release has stopped the safety net
	return a.freeByHandle("free")
}

// freeByHandle is the Free of a's handle, after it changed its own state.
func (a *allocation) freeByHandle(op string) error {
	// Retire gives the record back to the ledger for reuse unless it keeps
	// a stack: after it only a.key, a.n and a traced a.rec are read.
	if !a.rec.Retire() {
		return fmt.Errorf("cuda: %s %d bytes (tag %q): the context was closed: %w", op, a.n, a.key.Tag(), ErrClosed)
	}
	if err := a.ctx.enter(op); err != nil {
		return err // Close frees it
	}
	err := a.free()
	a.ctx.exit()
	return err
}

// copiedHandle is the error of a copy of a handle's struct: it owns
// nothing, so that it cannot free the memory, or end the record the ledger
// has since given to another allocation, a second time.
func copiedHandle(op, what string, a *allocation) error {
	return fmt.Errorf("cuda: %s of a copy of a %s (%d bytes, tag %q): use the *%s itself, copies own nothing: %w", op, what, a.n, a.key.Tag(), what, ErrInvalidArgument)
}

// zeroBuffer is the error of a zero DeviceBuffer, which no allocation made.
func zeroBuffer(op string) error {
	return fmt.Errorf("cuda: %s of a zero DeviceBuffer (make buffers with Alloc or a Clone function): %w", op, ErrInvalidArgument)
}

// Close is Free, for io.Closer.
func (b *DeviceBuffer) Close() error { return b.Free() }

// View borrows n bytes at off. The view reads and writes the buffer's
// memory; it fails with ErrFreed once the buffer is freed.
func (b *DeviceBuffer) View(off, n int) (DeviceView, error) {
	if b == nil {
		return DeviceView{}, fmt.Errorf("cuda: view of a nil buffer: %w", ErrInvalidArgument)
	}
	if b.a == nil {
		return DeviceView{}, zeroBuffer("view")
	}
	if off < 0 || n < 0 || off > b.Len()-n {
		return DeviceView{}, fmt.Errorf("cuda: view [%d, %d+%d) of a %d-byte buffer: %w", off, off, n, b.Len(), ErrSizeMismatch)
	}
	return DeviceView{buf: b, off: off, n: n}, nil
}

// A DeviceView is a borrowed range of a DeviceBuffer. It keeps the buffer
// reachable but does not own it: once the buffer is freed, every use of
// the view fails with ErrFreed.
type DeviceView struct {
	buf    *DeviceBuffer
	off, n int
}

// ByteLen is the size of the view in bytes.
func (v DeviceView) ByteLen() int { return v.n }

// Offset is where the view starts in its buffer.
func (v DeviceView) Offset() int { return v.off }

func (v DeviceView) span(op string) (*allocation, int, int, error) {
	if v.buf == nil {
		return nil, 0, 0, fmt.Errorf("cuda: %s of a zero view: %w", op, ErrInvalidArgument)
	}
	a, _, _, err := v.buf.span(op)
	return a, v.off, v.n, err
}

// DevicePtr returns the device address of the view's first byte.
func (v DeviceView) DevicePtr() (DevicePtr, error) {
	a, off, _, err := v.span("device pointer")
	if err != nil {
		return 0, err
	}
	return a.ptr + DevicePtr(off), nil
}

// A DeviceSlice is n values of type T in device memory, owned like a
// DeviceBuffer. T must hold no Go pointers. Copies of a DeviceSlice value
// share its one buffer; a nil or zero DeviceSlice owns nothing, like a
// nil or zero DeviceBuffer.
type DeviceSlice[T any] struct {
	buf *DeviceBuffer
}

// AllocSlice returns n uninitialised values of type T on c's device.
func AllocSlice[T any](c *Context, tag string, n int) (*DeviceSlice[T], error) {
	return allocSlice[T](c, tag, n, false, nil)
}

// AllocSliceZeroed returns n zeroed values of type T on c's device.
func AllocSliceZeroed[T any](c *Context, tag string, n int) (*DeviceSlice[T], error) {
	return allocSlice[T](c, tag, n, true, nil)
}

func elemSize[T any]() (int, error) {
	var zero T
	if err := pointerfree.Check(reflect.TypeFor[T]()); err != nil {
		return 0, fmt.Errorf("cuda: %w", err)
	}
	return int(unsafe.Sizeof(zero)), nil
}

func allocSlice[T any](c *Context, tag string, n int, zero bool, s *Stream) (*DeviceSlice[T], error) {
	size, err := elemSize[T]()
	if err != nil {
		return nil, err
	}
	if n < 0 || (size > 0 && n > math.MaxInt/size) {
		return nil, fmt.Errorf("cuda: slice of %d values of %d bytes (tag %q): %w", n, size, tag, ErrInvalidSize)
	}
	if c == nil && s != nil {
		c = s.ctx
	}
	b, err := c.alloc(tag, n*size, zero, s)
	if err != nil {
		return nil, err
	}
	return &DeviceSlice[T]{buf: b}, nil
}

// Len returns the number of values; 0 for a nil slice.
func (s *DeviceSlice[T]) Len() int {
	if s == nil {
		return 0
	}
	var zero T
	if size := int(unsafe.Sizeof(zero)); size > 0 {
		return s.buf.Len() / size
	}
	return 0
}

// ByteLen is the size in bytes.
func (s *DeviceSlice[T]) ByteLen() int {
	if s == nil {
		return 0
	}
	return s.buf.Len()
}

func (s *DeviceSlice[T]) span(op string) (*allocation, int, int, error) {
	if s == nil {
		return nil, 0, 0, fmt.Errorf("cuda: %s of a nil slice: %w", op, ErrInvalidArgument)
	}
	return s.buf.span(op)
}

// Buffer returns the slice's memory as an untyped buffer: the same handle,
// freeing either frees both.
func (s *DeviceSlice[T]) Buffer() *DeviceBuffer {
	if s == nil {
		return nil
	}
	return s.buf
}

// Free gives the memory back, like DeviceBuffer.Free.
func (s *DeviceSlice[T]) Free() error {
	if s == nil {
		return nil
	}
	if s.buf == nil {
		return zeroBuffer("free")
	}
	return s.buf.Free()
}

// Close is Free, for io.Closer.
func (s *DeviceSlice[T]) Close() error { return s.Free() }

// Err is DeviceBuffer.Err.
func (s *DeviceSlice[T]) Err() error {
	_, _, _, err := s.span("use")
	return err
}

// View borrows the values [lo, hi).
func (s *DeviceSlice[T]) View(lo, hi int) (SliceView[T], error) {
	if s == nil {
		return SliceView[T]{}, fmt.Errorf("cuda: view of a nil slice: %w", ErrInvalidArgument)
	}
	if s.buf == nil {
		return SliceView[T]{}, zeroBuffer("view")
	}
	if lo < 0 || hi < lo || hi > s.Len() {
		return SliceView[T]{}, fmt.Errorf("cuda: view [%d, %d) of a slice of %d values: %w", lo, hi, s.Len(), ErrSizeMismatch)
	}
	var zero T
	size := int(unsafe.Sizeof(zero))
	return SliceView[T]{buf: s.buf, off: lo * size, n: (hi - lo) * size}, nil
}

// A SliceView is a borrowed range of a DeviceSlice, like DeviceView.
type SliceView[T any] struct {
	buf    *DeviceBuffer
	off, n int // in bytes
}

// Len returns the number of values.
func (v SliceView[T]) Len() int {
	var zero T
	if size := int(unsafe.Sizeof(zero)); size > 0 {
		return v.n / size
	}
	return 0
}

// ByteLen is the size in bytes.
func (v SliceView[T]) ByteLen() int { return v.n }

func (v SliceView[T]) span(op string) (*allocation, int, int, error) {
	return DeviceView(v).span(op)
}

// sites says where a record was allocated and freed, as far as the ledger
// knows.
func sites(r *tracker.Record) string {
	s := ""
	if site := stacks.Site(r.Stack()); site != "" {
		s += ", allocated at " + site
	}
	if site := stacks.Site(r.FreeStack()); site != "" {
		s += ", freed at " + site
	}
	return s
}
