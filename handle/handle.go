// Package handle turns Go values into void* pointers that C code can keep
// (the user-data argument of C callbacks) and turns them back, with each
// handle in the membridge ledger (kind go-handle), so a handle nobody
// released shows up like leaked memory.
//
// A strong handle ([New]) keeps its value alive until Release, as
// runtime/cgo.Handle does. A weak handle ([NewWeak]) does not: when a Go
// object owns C state that holds a handle back to the object, a strong
// handle makes a cycle the garbage collector cannot break (the handle table
// is a root), while with a weak one the object can be collected, and its
// cleanup can free the C state and release the handle. Looking up a weak
// handle whose value was collected returns ErrGone, never a crash.
//
// Handles are built on github.com/mattn/go-pointer: the pointer C sees is a
// real C allocation of one byte, which is what the ledger counts. Releasing
// a handle twice is harmless (go-pointer alone would free its key twice)
// and reported as an error wrapping ErrReleased.
package handle

import (
	"errors"
	"fmt"
	"runtime"
	"sync/atomic"
	"unsafe"

	pointer "github.com/mattn/go-pointer"

	"github.com/membridge/membridge/tracker"
)

// Errors of lookups and releases.
var (
	// ErrReleased: the handle was already released (wraps tracker.ErrFreed).
	ErrReleased = fmt.Errorf("handle: already released: %w", tracker.ErrFreed)
	// ErrUnknown: the pointer is not a live handle (never made, or released).
	ErrUnknown = errors.New("handle: not a live handle")
	// ErrGone: a weak handle's value was garbage collected.
	ErrGone = errors.New("handle: value gone (collected)")
	// ErrWrongType: the handle holds a value of another type than asked.
	ErrWrongType = errors.New("handle: value of another type")
	// ErrNil: a nil value cannot be given a handle.
	ErrNil = errors.New("handle: nil value")
)

// keySize is what go-pointer allocates in C for each handle.
const keySize = 1

// A Handle is a strong handle: C code refers to a Go value through Pointer
// until Release. It keeps the value alive until then.
type Handle struct {
	p        unsafe.Pointer
	rec      *tracker.Record
	released atomic.Bool
}

// New returns a strong handle for v, counted in the ledger under tag.
func New(tag string, v any) (*Handle, error) {
	if v == nil {
		return nil, fmt.Errorf("handle: new (tag %q): %w", tag, ErrNil)
	}
	return newHandle(tag, v, 2)
}

func newHandle(tag string, stored any, skip int) (*Handle, error) {
	rec, err := tracker.Reserve(tracker.KindHandle, -1, tag, keySize, skip)
	if err != nil {
		return nil, fmt.Errorf("handle: new (tag %q): %w", tag, err)
	}
	p := pointer.Save(stored)
	h := &Handle{p: p, rec: rec}
	// If the handle is dropped without Release, the safety net unrefs the
	// key; it must not refer to h, or h would never be unreachable.
	rec.Commit(uintptr(p), tracker.ReclaimFunc(func(*tracker.Record) { pointer.Unref(p) }))
	tracker.Watch(h, rec)
	return h, nil
}

// Pointer returns the void* to give C. It stays the same for the life of
// the handle; after Release it may be reused for another handle.
func (h *Handle) Pointer() unsafe.Pointer { return h.p }

// Tag returns the tag given at New.
func (h *Handle) Tag() string { return h.rec.Tag() }

// Release ends the handle: lookups of its pointer fail with ErrUnknown and
// the value is no longer kept alive by it. A second Release does nothing
// and returns an error wrapping ErrReleased (and tracker.ErrFreed) that
// says where the handle was made and, when stacks are kept, first released.
func (h *Handle) Release() error {
	if h == nil {
		return nil
	}
	if !h.released.CompareAndSwap(false, true) {
		return fmt.Errorf("handle: release of %p (tag %q%s): %w", h.p, h.rec.Tag(), sites(h.rec), ErrReleased)
	}
	if h.rec.Release() {
		pointer.Unref(h.p)
	}
	runtime.KeepAlive(h)
	return nil
}

// Value returns the value behind a handle's pointer, as C gave it back:
// the value of a strong handle, or the *T of a weak one (ErrGone if it was
// collected). A pointer that is not a live handle gets ErrUnknown.
func Value(p unsafe.Pointer) (any, error) {
	v := pointer.Restore(p)
	switch v := v.(type) {
	case nil:
		return nil, fmt.Errorf("handle: value of %p: %w", p, ErrUnknown)
	case weakRef:
		val, err := v.value()
		if err != nil {
			return nil, fmt.Errorf("handle: value of %p: %w", p, err)
		}
		return val, nil
	}
	return v, nil
}

func sites(r *tracker.Record) string {
	s := ""
	if site := tracker.Site(r.Stack()); site != "" {
		s += ", made at " + site
	}
	if site := tracker.Site(r.FreeStack()); site != "" {
		s += ", first released at " + site
	}
	return s
}
