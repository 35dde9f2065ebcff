package native

import (
	"fmt"
	"sync"
	"unsafe"

	"github.com/membridge/membridge/tracker"
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
// Memory the ledger already owns cannot be adopted: when p lies in the
// memory of a live record of the ledger, a Buffer's block, an adopted
// block, an arena chunk, device or pinned memory, Adopt returns an error
// wrapping ErrAlreadyOwned that names that owner, and nothing changes.
// That covers interior pointers: a pointer into the middle of a buffer or
// into an arena allocation is refused, since its deleter would free memory
// that is not a block of its own. (The check is on p, the address the
// deleter is given; n is the caller's count of the bytes.) Once the owner
// is freed, the address may be adopted again (by whoever really owns the
// memory then). Of concurrent Adopts of one block exactly one succeeds.
//
// The check visits every live record of the ledger, so Adopt costs time in
// proportion to the live allocations (some nanoseconds each); the
// allocation paths pay nothing for it.
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
	// One Adopt at a time between the check and the commit, so that of two
	// Adopts of one block the second sees the first's record.
	adoptMu.Lock()
	defer adoptMu.Unlock()
	if p != nil {
		if o, ok := ownerOf(uintptr(p)); ok {
			return nil, fmt.Errorf("native: adopt %d bytes at %p (tag %q) with %s: %s: %w", n, p, tag, del.d.name, o, ErrAlreadyOwned)
		}
	}
	rec, err := tracker.Reserve(tracker.KindAdopted, -1, tag, int64(n), 1)
	if err != nil {
		return nil, fmt.Errorf("native: adopt %d bytes (tag %q) with %s: %w", n, tag, del.d.name, err)
	}
	b := newBuffer(p, n, rec, &bufferExt{del: del.d}, false)
	rec.Commit(uintptr(p), adopted{p, del.d})
	tracker.Watch(b, rec)
	return b, nil
}

var adoptMu sync.Mutex

// owner describes a live record that overlaps memory offered to Adopt.
type owner struct {
	addr  uintptr
	bytes int64
	kind  tracker.Kind
	tag   string
	stack []uintptr
}

func (o owner) String() string {
	site := tracker.Site(o.stack)
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
		a.d.delete(a.p)
	}
}
