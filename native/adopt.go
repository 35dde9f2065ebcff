package native

import (
	"fmt"
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
func Adopt(tag string, p unsafe.Pointer, n int, del Deleter) (*Buffer, error) {
	switch {
	case n < 0:
		return nil, fmt.Errorf("native: adopt %d bytes (tag %q): %w", n, tag, ErrInvalidSize)
	case p == nil && n > 0:
		return nil, fmt.Errorf("native: adopt %d bytes (tag %q): nil pointer: %w", n, tag, ErrInvalidArgument)
	case del.d == nil:
		return nil, fmt.Errorf("native: adopt %d bytes (tag %q): no deleter: %w", n, tag, ErrInvalidArgument)
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
