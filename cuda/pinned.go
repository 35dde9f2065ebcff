package cuda

import (
	"fmt"
	"runtime"
	"sync/atomic"
	"unsafe"

	"github.com/membridge/membridge/tracker"
)

// A PinnedBuffer owns n bytes of page-locked host memory (cuMemAllocHost),
// which the device reads and writes directly: copies from and to it are
// faster than from pageable memory, and the stream-ordered ones run
// asynchronously. It belongs to the context that allocated it. In the host
// backend it is ordinary C heap memory, counted as pinned all the same.
//
// A nil or zero PinnedBuffer owns no memory: Len is 0, Bytes and Record
// nil, Free on nil does nothing, and Err and Free of a zero one fail with
// ErrInvalidArgument, as do those of a copy of the struct (cp := *p, which
// go vet reports): use the *PinnedBuffer itself.
type PinnedBuffer struct {
	a     *allocation
	state atomic.Uint32
	self  *PinnedBuffer // the handle's own address: another in a copy
}

// AllocPinned returns n bytes of uninitialised page-locked host memory
// under tag. Out of memory it relieves and retries once like Alloc.
func (c *Context) AllocPinned(tag string, n int) (*PinnedBuffer, error) {
	if n < 0 {
		return nil, fmt.Errorf("cuda: alloc %d pinned bytes (tag %q): %w", n, tag, ErrInvalidSize)
	}
	if err := c.enter("alloc pinned"); err != nil {
		return nil, err
	}
	a := &allocation{ctx: c, kind: allocPinned, n: n}
	p := &PinnedBuffer{a: a}
	p.self = p
	req := tracker.Request{Kind: kindPinned, Device: c.dev.Ordinal, Tag: tag, Bytes: int64(n)}
	rec, err := allocEntered(c, "alloc pinned", p, req, a, func() (uintptr, error) {
		var err error
		if n > 0 {
			a.host, err = drvAllocHost(c.h, n)
		}
		return uintptr(a.host), err
	})
	if err != nil {
		return nil, fmt.Errorf("cuda: alloc %d pinned bytes (tag %q): %w", n, tag, err)
	}
	a.committed(rec)
	c.link(a) // before the context is left: see alloc
	c.exit()
	return p, nil
}

// Len returns the size in bytes.
func (p *PinnedBuffer) Len() int {
	if p == nil || p.a == nil {
		return 0
	}
	return p.a.n
}

// Snapshot returns what the ledger says of the buffer's allocation, as a
// value (see DeviceBuffer.Snapshot).
func (p *PinnedBuffer) Snapshot() tracker.Snapshot {
	if p == nil || p.a == nil {
		return tracker.Snapshot{}
	}
	return p.a.snapshot()
}

// Bytes returns the memory as a Go slice, valid until Free or the
// context's Close. It panics with the reason (ErrFreed, ErrClosed) on a
// buffer that can no longer be used; a nil or zero buffer has no bytes:
// Bytes returns nil. The slice does not keep the buffer alive: keep the
// *PinnedBuffer reachable until the slice's last use (Free after it, or
// runtime.KeepAlive), or the safety net may free the memory under it.
func (p *PinnedBuffer) Bytes() []byte {
	if p == nil || p.a == nil {
		return nil
	}
	if err := p.Err(); err != nil {
		panic(err)
	}
	return unsafe.Slice((*byte)(p.a.host), p.a.n)
}

// PinnedValues returns p's memory as values of type T (pointer-free), as
// many as fit. It panics like Bytes.
func PinnedValues[T any](p *PinnedBuffer) []T {
	size, err := elemSize[T]()
	if err != nil {
		panic(err)
	}
	b := p.Bytes()
	if size == 0 || len(b) == 0 {
		return nil
	}
	return unsafe.Slice((*T)(unsafe.Pointer(&b[0])), len(b)/size)
}

// Err returns nil while the buffer can be used, and otherwise why not.
func (p *PinnedBuffer) Err() error {
	switch {
	case p == nil:
		return fmt.Errorf("cuda: nil pinned buffer: %w", ErrInvalidArgument)
	case p.a == nil:
		return fmt.Errorf("cuda: zero PinnedBuffer (make pinned buffers with AllocPinned): %w", ErrInvalidArgument)
	case p.self != p:
		return copiedHandle("use", "PinnedBuffer", p.a)
	case p.state.Load() != handleLive:
		return fmt.Errorf("cuda: use of freed pinned buffer (%d bytes, %s): %w", p.a.n, p.a.describe(), ErrFreed)
	case p.a.done.Load(): // freed, and not by its handle: by Close
		return fmt.Errorf("cuda: use of pinned buffer (%d bytes, tag %q) whose context was closed: %w", p.a.n, p.a.key.Tag(), ErrClosed)
	}
	return nil
}

// Free gives the memory back after the device has finished the work
// queued so far that may use it. It is idempotent like DeviceBuffer.Free.
func (p *PinnedBuffer) Free() error {
	if p == nil {
		return nil
	}
	if p.a == nil || p.self != p {
		return p.Err()
	}
	if !p.state.CompareAndSwap(handleLive, handleFreed) {
		return fmt.Errorf("cuda: free of freed pinned buffer (%d bytes, %s): %w", p.a.n, p.a.describe(), ErrFreed)
	}
	defer runtime.KeepAlive(p)
	return p.a.freeByHandle("free pinned")
}

// Close is Free, for io.Closer.
func (p *PinnedBuffer) Close() error { return p.Free() }
