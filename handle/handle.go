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
// # What C holds
//
// The void* C is given is opaque: not an address, never to be
// dereferenced. It names a slot of the package's handle table and the
// slot's generation. Each Release moves the slot to its next generation
// before the slot is used again, and a slot whose 32-bit generation would
// wrap is retired, so a value is issued to one handle only, for the life
// of the process: a stale value (its handle released, even if New has
// made thousands of handles since) or a forged one resolves to ErrUnknown,
// never to another handle's value. A lookup takes no lock of the table's
// (only go-pointer's read lock); New and Release take its lock briefly.
//
// The values themselves are stored with github.com/mattn/go-pointer: each
// handle saves its value there, and the slot keeps the go-pointer key, a
// real one-byte C allocation, which is what the ledger counts. go-pointer
// alone would hand C that key, and C's allocator reuses a freed key for
// the next handle; the generation is what the table adds. Releasing a
// handle twice, through one *Handle or through copies of it, ends it once
// and otherwise returns an error wrapping ErrReleased.
//
// The methods of a zero or nil Handle or Weak never panic: Release and
// Weak.Value return an error wrapping ErrInvalid, Pointer returns nil and
// Tag "".
//
// The encoding needs a 64-bit platform; a 32-bit build stops with an
// error naming this.
package handle

import (
	"errors"
	"fmt"
	"runtime"
	"unsafe"

	pointer "github.com/mattn/go-pointer"

	"github.com/membridge/membridge/internal/ownerr"
	"github.com/membridge/membridge/tracker"
	"github.com/membridge/membridge/tracker/stacks"
)

// Errors of lookups and releases.
var (
	// ErrReleased: the handle was already released (wraps native.ErrFreed,
	// which is cuda.ErrFreed).
	ErrReleased = fmt.Errorf("already released: %w", ownerr.ErrFreed)
	// ErrUnknown: the pointer is not a live handle (never made, or released).
	ErrUnknown = errors.New("not a live handle")
	// ErrGone: a weak handle's value was garbage collected.
	ErrGone = errors.New("value gone (collected)")
	// ErrWrongType: the handle holds a value of another type than asked.
	ErrWrongType = errors.New("value of another type")
	// ErrNil: a nil value cannot be given a handle.
	ErrNil = errors.New("nil value")
	// ErrInvalid: the Handle or Weak is a zero value or nil, not one made
	// by New or NewWeak.
	ErrInvalid = errors.New("zero or nil handle")
)

// keySize is what go-pointer allocates in C for each handle.
const keySize = 1

// A Handle is a strong handle: C code refers to a Go value through Pointer
// until Release. It keeps the value alive until then.
type Handle struct {
	v   uintptr // the encoded slot and generation (table.go); 0 in a zero Handle
	rec *tracker.Record
}

// New returns a strong handle for v, counted in the ledger under tag.
func New(tag string, v any) (*Handle, error) {
	if v == nil {
		return nil, fmt.Errorf("handle: new (tag %q): %w", tag, ErrNil)
	}
	return newHandle(tag, v)
}

func newHandle(tag string, stored any) (*Handle, error) {
	idx, s, err := slots.take()
	if err != nil {
		return nil, fmt.Errorf("handle: new (tag %q): %w", tag, err)
	}
	h := &Handle{}
	var key unsafe.Pointer
	// If the handle is dropped without Release, the safety net ends the
	// slot's generation (slot.Reclaim); the slot does not refer to h, or h
	// would never be unreachable.
	rec, err := tracker.Allocate(h, tracker.Request{Kind: KindHandle, Device: -1, Tag: tag, Bytes: keySize}, func() (uintptr, error) {
		key = pointer.Save(stored)
		return uintptr(key), nil
	}, s)
	if err != nil {
		slots.unused(idx)
		return nil, fmt.Errorf("handle: new (tag %q): %w", tag, err)
	}
	gen := s.fill(key, rec)
	h.v, h.rec = encode(idx, gen), rec
	return h, nil
}

// Pointer returns the void* to give C: an opaque value, not an address.
// It stays the same for the life of the handle and is never issued to
// another handle, before or after Release. A zero or nil Handle's Pointer
// is nil.
func (h *Handle) Pointer() unsafe.Pointer {
	if h == nil || h.v == 0 {
		return nil
	}
	return asPointer(h.v)
}

// Tag returns the tag given at New, or "" for a zero or nil Handle.
func (h *Handle) Tag() string {
	if h == nil || h.rec == nil {
		return ""
	}
	return h.rec.Tag()
}

// Release ends the handle: lookups of its pointer fail with ErrUnknown and
// the value is no longer kept alive by it. A second Release, through this
// Handle or a copy of it, does nothing and returns an error wrapping
// ErrReleased (and native.ErrFreed) that says where the handle was made
// and, when stacks are kept, first released. Release of a zero or nil
// Handle returns an error wrapping ErrInvalid.
func (h *Handle) Release() error {
	if h == nil || h.v == 0 {
		return fmt.Errorf("handle: release: %w", ErrInvalid)
	}
	idx, gen, _ := decode(h.v)
	s := slots.at(idx)
	if s == nil || !s.claim(gen) {
		return fmt.Errorf("handle: release of %p (tag %q%s): %w", asPointer(h.v), h.rec.Tag(), sites(h.rec), ErrReleased)
	}
	// The record ends before the key is freed: the next handle's key may
	// be the same C address.
	h.rec.Release()
	slots.recycle(s)
	runtime.KeepAlive(h)
	return nil
}

// Value returns the value behind a handle's pointer, as C gave it back:
// the value of a strong handle, or the *T of a weak one (ErrGone if it was
// collected). A pointer that is not a live handle (nil, released, forged)
// gets ErrUnknown.
func Value(p unsafe.Pointer) (any, error) {
	v, err := lookup(uintptr(p))
	if err != nil {
		return nil, fmt.Errorf("handle: value of %p: %w", p, err)
	}
	return v, nil
}

// ValueOf is Value for a pointer C handed back as an integer (uintptr_t).
// A callback that may be given a void* that is not a handle (a small
// integer, garbage) should receive it so and call ValueOf: an unsafe.Pointer
// holding such a value can make the Go runtime abort ("invalid pointer
// found on stack") when it copies the goroutine's stack.
func ValueOf(v uintptr) (any, error) {
	val, err := lookup(v)
	if err != nil {
		return nil, fmt.Errorf("handle: value of %#x: %w", v, err)
	}
	return val, nil
}

func lookup(v uintptr) (any, error) {
	switch stored := slots.lookup(v).(type) {
	case nil:
		return nil, ErrUnknown
	case weakRef:
		return stored.value()
	default:
		return stored, nil
	}
}

func sites(r *tracker.Record) string {
	s := ""
	if site := stacks.Site(r.Stack()); site != "" {
		s += ", made at " + site
	}
	if site := stacks.Site(r.FreeStack()); site != "" {
		s += ", first released at " + site
	}
	return s
}
