package native

import (
	"fmt"
	"unsafe"

	"github.com/membridge/membridge/tracker"
	"github.com/membridge/membridge/tracker/stacks"
)

// A Deleter frees memory that a C library allocated, the way that library
// wants it freed. Make one with CDeleter (a C function pointer), FreeDeleter
// (libc's free) or DeleterFunc (Go code).
type Deleter struct{ d *deleter }

type deleter struct {
	cfn  unsafe.Pointer       // void (*)(void *), or nil
	gofn func(unsafe.Pointer) // used when cfn is nil
	name string
}

func (d *deleter) delete(p unsafe.Pointer) {
	if d.cfn != nil {
		cCallDeleter(d.cfn, p)
		return
	}
	d.gofn(p)
}

// CDeleter returns a Deleter that calls a C function of type
// void (*)(void *), given as a pointer (for example unsafe.Pointer(C.lib_free)).
// name appears in error messages.
func CDeleter(name string, fn unsafe.Pointer) Deleter {
	if fn == nil {
		return Deleter{}
	}
	return Deleter{&deleter{cfn: fn, name: name}}
}

// FreeDeleter returns a Deleter that calls libc's free.
func FreeDeleter() Deleter { return Deleter{&deleter{cfn: cFreeFunc, name: "free"}} }

// DeleterFunc returns a Deleter that calls fn. fn runs on the runtime's
// cleanup goroutine when the safety net reclaims a dropped handle, so it
// must not block for long.
func DeleterFunc(name string, fn func(unsafe.Pointer)) Deleter {
	if fn == nil {
		return Deleter{}
	}
	return Deleter{&deleter{gofn: fn, name: name}}
}

// Adopt takes ownership of n bytes at p that a C library allocated; Free
// (or the safety net) gives them back through del. The ledger counts them
// as KindAdopted under tag. p must be non-nil when n > 0, and del must be a
// Deleter made by this package; otherwise Adopt returns ErrInvalidArgument
// and p stays the caller's.
//
// Memory this package already owns cannot be adopted: when p is the start
// of a live Buffer's block (large ones included) or of an adopted block, or
// points anywhere into an arena chunk, Adopt returns an error wrapping
// ErrAlreadyOwned that names the owner, and nothing changes; of concurrent Adopts of one block
// exactly one succeeds. Once the owner is freed or has handed the memory
// to C, the address may be adopted again (by whoever really owns the
// memory then). The check is on p, the address the deleter is given; n is
// the caller's count of the bytes.
//
// The check costs a few nanoseconds: each allocation marks the start of
// its block in a byte map (owned.go). A pointer into the middle of a
// buffer, which no deleter can take either, is found only in the
// checked mode (MEMBRIDGE_CHECK=1), where Adopt also looks p up among the
// ledger's live records (device and pinned memory too), at a cost that
// grows with their number.
func Adopt(tag string, p unsafe.Pointer, n int, del Deleter) (*Buffer, error) {
	switch {
	case n < 0:
		return nil, fmt.Errorf("native: adopt %d bytes (tag %q): %w", n, tag, ErrInvalidSize)
	case p == nil && n > 0:
		return nil, fmt.Errorf("native: adopt %d bytes (tag %q): nil pointer: %w", n, tag, ErrInvalidArgument)
	case uintptr(p)+uintptr(n) < uintptr(p):
		return nil, fmt.Errorf("native: adopt %d bytes at %p (tag %q): the range passes the end of the address space: %w", n, p, tag, ErrInvalidSize)
	case del.d == nil:
		return nil, fmt.Errorf("native: adopt %d bytes (tag %q): no deleter: %w", n, tag, ErrInvalidArgument)
	}
	if p != nil {
		if err := claim(uintptr(p)); err != nil {
			return nil, fmt.Errorf("native: adopt %d bytes at %p (tag %q) with %s: %w", n, p, tag, del.d.name, err)
		}
	}
	b := newBuffer(p, n, nil, &bufferExt{del: del.d}, false)
	// The memory exists already: nothing to allocate, only to enter.
	rec, err := tracker.Allocate(b, tracker.Request{Kind: KindAdopted, Device: -1, Tag: tag, Bytes: int64(n), Addr: uintptr(p)}, nil, adopted{p, del.d})
	if err != nil {
		if p != nil {
			unmarkOwned(uintptr(p))
		}
		return nil, fmt.Errorf("native: adopt %d bytes (tag %q) with %s: %w", n, tag, del.d.name, err)
	}
	b.owns(rec)
	return b, nil
}

// claim marks p owned for an Adopt, or says who owns it already.
func claim(p uintptr) error {
	adoptMu.Lock()
	defer adoptMu.Unlock()
	if tracker.Checking() {
		if o, ok := ownerOf(p); ok {
			return fmt.Errorf("%s: %w", o, ErrAlreadyOwned)
		}
	}
	if claimOwned(p) {
		return nil
	}
	if o, ok := ownerOf(p); ok {
		return fmt.Errorf("%s: %w", o, ErrAlreadyOwned)
	}
	return fmt.Errorf("it is the start of a block a buffer or another Adopt owns: %w", ErrAlreadyOwned)
}

// owner describes a live record that overlaps memory offered to Adopt.
type owner struct {
	addr  uintptr
	bytes int64
	kind  tracker.Kind
	tag   string
	stack []uintptr
}

func (o owner) String() string {
	site := stacks.Site(o.stack)
	if site == "" {
		site = "allocation site unknown: set MEMBRIDGE_TRACK=all"
	} else {
		site = "allocated at " + site
	}
	return fmt.Sprintf("it lies in %d bytes of %s memory at %#x (tag %q, %s) that the ledger already owns", o.bytes, o.kind, o.addr, o.tag, site)
}

// ownerOf returns the live record whose memory holds p, if any. A record
// of 0 bytes at a non-zero address (an adopted empty block) counts as
// owning its first byte.
func ownerOf(p uintptr) (o owner, found bool) {
	tracker.LiveRecords(func(r *tracker.Record) bool {
		a := r.Addr()
		if a == 0 || a > p {
			return true
		}
		if p-a < uintptr(max(r.Bytes(), 1)) {
			o = owner{addr: a, bytes: r.Bytes(), kind: r.Kind(), tag: r.Tag(), stack: r.Stack()}
			found = true
			return false
		}
		return true
	})
	return o, found
}

// adopted gives back adopted memory whose handle was dropped. It holds the
// pointer and the deleter, never the handle.
type adopted struct {
	p unsafe.Pointer
	d *deleter
}

func (a adopted) Reclaim(*tracker.Record) {
	if a.p != nil {
		unmarkOwned(uintptr(a.p))
		a.d.delete(a.p)
	}
}
