package cuda

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
)

// A Context owns one device's primary context for this package: the
// memory, streams, events and modules made through it belong to it, and
// Close ends them all. Several Contexts may be open on one device (the
// driver counts retains of the primary context); memory of one cannot be
// used with another. All methods are safe for concurrent use.
//
// Only a Context from Open is one: a zero Context (var c cuda.Context) has
// no device, and every method that would use one fails with
// ErrInvalidArgument, so nothing is allocated through it. Close on a nil
// *Context does nothing.
type Context struct {
	dev  Device
	h    uintptr // CUcontext
	pool uintptr // the device's default memory pool, 0 where not used

	// mu is held shared by every call that uses the driver and exclusively
	// by Close, so no call runs on a released context.
	mu     sync.RWMutex
	closed bool

	// queue holds allocations the safety net found dropped; the context
	// frees them on its next call (the cleanup goroutine never calls CUDA).
	queue struct {
		sync.Mutex
		items []*allocation
	}
	queued atomic.Bool

	// live links every allocation not yet freed, so Close can free them.
	live struct {
		sync.Mutex
		head *allocation
	}

	objects struct { // streams, events and modules, for Close
		sync.Mutex
		streams map[*Stream]struct{}
		events  map[*Event]struct{}
		modules map[*Module]struct{}
	}

	parked struct { // errors of frees nobody could return them to
		sync.Mutex
		errs []error
	}

	builtin struct {
		once sync.Once
		fns  map[string]*Function
		err  error
	}

	null *Stream // the default (legacy) stream

	cache *deviceCache // freed device memory kept for reuse (cache.go)
}

// An Option changes how Open sets up a Context. Options are functional,
// in the manner of goleak's (and of native.AllocOption): pass any number,
// a later one overrides an earlier one.
type Option interface {
	// apply returns o changed by the option (a value, as native's options).
	apply(o contextOptions) contextOptions
}

type contextOptions struct {
	threshold  uint64
	cacheLimit int64
}

// DefaultPoolReleaseThreshold is how many bytes of freed stream-ordered
// memory the device's pool keeps for reuse instead of returning them to the
// driver at each synchronisation.
const DefaultPoolReleaseThreshold = 64 << 20

// PoolReleaseThreshold sets the memory pool's release threshold (the
// device's default pool, which the CUDA runtime shares).
func PoolReleaseThreshold(bytes uint64) Option { return poolReleaseThreshold(bytes) }

type poolReleaseThreshold uint64

func (t poolReleaseThreshold) apply(o contextOptions) contextOptions {
	o.threshold = uint64(t)
	return o
}

// Open retains the primary context of device ordinal and returns its owner.
// Close it when done: it frees what is still allocated through it. A
// Context has no safety net of its own (giving back a context means calling
// CUDA, which the cleanup goroutine must not do): one dropped without Close
// keeps the primary context retained and its memory allocated until the
// process ends.
func Open(ordinal int, opts ...Option) (*Context, error) {
	o := contextOptions{threshold: DefaultPoolReleaseThreshold, cacheLimit: DefaultCacheLimit}
	for _, opt := range opts {
		if opt != nil {
			o = opt.apply(o)
		}
	}
	dev, err := device(ordinal)
	if err != nil {
		return nil, fmt.Errorf("cuda: open: %w", err)
	}
	h, err := drvCtxRetain(ordinal)
	if err != nil {
		return nil, fmt.Errorf("cuda: open device %d: retain primary context: %w", ordinal, err)
	}
	c := &Context{dev: dev, h: h}
	if dev.MemoryPools {
		if c.pool, err = drvPoolInit(h, ordinal, o.threshold); err != nil {
			_ = drvCtxRelease(ordinal)
			return nil, fmt.Errorf("cuda: open device %d: memory pool: %w", ordinal, err)
		}
	}
	c.objects.streams = map[*Stream]struct{}{}
	c.objects.modules = map[*Module]struct{}{}
	c.objects.events = map[*Event]struct{}{}
	c.null = &Stream{ctx: c}
	c.cache = newDeviceCache(c, o.cacheLimit)
	return c, nil
}

// Device describes the context's device; the zero Device for a nil or
// zero Context.
func (c *Context) Device() Device {
	if c == nil {
		return Device{}
	}
	return c.dev
}

// DefaultStream returns the device's legacy default stream, which orders
// against every other stream of the context. Closing it does nothing. nil
// for a nil or zero Context.
func (c *Context) DefaultStream() *Stream {
	if c == nil {
		return nil
	}
	return c.null
}

// notOpened explains why c (nil, or a zero Context) cannot do op, or
// returns nil for a Context from Open. Open sets null, so a Context
// without one was not made by it.
func (c *Context) notOpened(op string) error {
	switch {
	case c == nil:
		return fmt.Errorf("cuda: %s: nil context: %w", op, ErrInvalidArgument)
	case c.null == nil:
		return fmt.Errorf("cuda: %s: zero Context (make contexts with Open): %w", op, ErrInvalidArgument)
	}
	return nil
}

// enter starts a call that uses the driver: it fails once the context is
// closed, and frees what the safety net queued. Every enter needs an exit.
func (c *Context) enter(op string) error {
	if err := c.notOpened(op); err != nil {
		return err
	}
	c.mu.RLock()
	if c.closed {
		c.mu.RUnlock()
		return fmt.Errorf("cuda: %s on device %d: %w", op, c.dev.Ordinal, ErrClosed)
	}
	if c.queued.Load() {
		c.drain()
	}
	return nil
}

func (c *Context) exit() { c.mu.RUnlock() }

// enqueue is the safety net's part: it only queues.
func (c *Context) enqueue(a *allocation) {
	c.queue.Lock()
	c.queue.items = append(c.queue.items, a)
	c.queued.Store(true)
	c.queue.Unlock()
}

// drain frees the allocations the safety net queued. The caller holds mu.
func (c *Context) drain() {
	c.queue.Lock()
	items := c.queue.items
	c.queue.items = nil
	c.queued.Store(false)
	c.queue.Unlock()
	for _, a := range items {
		if err := a.free(); err != nil {
			c.park(err)
		}
	}
}

func (c *Context) park(err error) {
	c.parked.Lock()
	c.parked.errs = append(c.parked.errs, err)
	c.parked.Unlock()
}

func (c *Context) takeParked() error {
	c.parked.Lock()
	errs := c.parked.errs
	c.parked.errs = nil
	c.parked.Unlock()
	return errors.Join(errs...)
}

// Synchronize frees what the safety net queued, waits for all work on the
// device to finish and returns the errors of frees the safety net made
// since the last call, if any.
func (c *Context) Synchronize() error {
	if err := c.enter("synchronize"); err != nil {
		return err
	}
	defer c.exit()
	if err := drvCtxSynchronize(c.h); err != nil {
		return fmt.Errorf("cuda: synchronize device %d: %w", c.dev.Ordinal, err)
	}
	return c.takeParked()
}

// MemInfo returns the device's free and total memory in bytes.
func (c *Context) MemInfo() (free, total int64, err error) {
	if err := c.enter("memory info"); err != nil {
		return 0, 0, err
	}
	defer c.exit()
	free, total, err = drvMemInfo(c.h)
	if err != nil {
		return 0, 0, fmt.Errorf("cuda: memory info of device %d: %w", c.dev.Ordinal, err)
	}
	return free, total, nil
}

// Close frees every allocation still made through the context (their
// handles then report ErrClosed), gives the cached device memory back
// (see EmptyCache), unloads its modules, destroys its streams
// and events, waits for the device and releases the primary context. It is
// idempotent: later calls return an error wrapping ErrClosed. Close on a
// nil *Context does nothing; on a zero Context it returns an error
// wrapping ErrInvalidArgument.
func (c *Context) Close() error {
	if c == nil {
		return nil
	}
	if err := c.notOpened("close"); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return fmt.Errorf("cuda: close device %d: %w", c.dev.Ordinal, ErrClosed)
	}
	var errs []error
	c.drain()
	for {
		c.live.Lock()
		a := c.live.head
		c.live.Unlock()
		if a == nil {
			break
		}
		// Whether its handle is live or the safety net already queued it,
		// the memory is freed here, once (free is idempotent).
		a.rec.Release()
		errs = append(errs, a.free())
	}
	// The frees above may have cached blocks: everything goes back now,
	// before the streams the blocks belong to are destroyed.
	errs = append(errs, c.cache.close())
	c.objects.Lock()
	for m := range c.objects.modules {
		errs = append(errs, m.closeLocked())
	}
	for e := range c.objects.events {
		errs = append(errs, e.destroyLocked())
	}
	for s := range c.objects.streams {
		errs = append(errs, s.destroyLocked())
	}
	c.objects.Unlock()
	errs = append(errs, drvCtxSynchronize(c.h))
	errs = append(errs, c.takeParked())
	if err := drvCtxRelease(c.dev.Ordinal); err != nil {
		errs = append(errs, fmt.Errorf("release primary context: %w", err))
	}
	c.closed = true
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("cuda: close device %d: %w", c.dev.Ordinal, err)
	}
	return nil
}

func (c *Context) link(a *allocation) {
	c.live.Lock()
	a.next = c.live.head
	if a.next != nil {
		a.next.prev = a
	}
	c.live.head = a
	c.live.Unlock()
}

func (c *Context) unlink(a *allocation) {
	c.live.Lock()
	if a.prev != nil {
		a.prev.next = a.next
	} else if c.live.head == a {
		c.live.head = a.next
	}
	if a.next != nil {
		a.next.prev = a.prev
	}
	a.prev, a.next = nil, nil
	c.live.Unlock()
}
