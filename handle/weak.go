package handle

import (
	"fmt"
	"unsafe"
	"weak"
)

// A Weak is a weak handle: C code refers to a *T through Pointer, but the
// handle does not keep the value alive. Release it like a strong handle.
// Its pointer obeys the same rule as a strong handle's: never issued to
// another handle, so a stale or forged one resolves to ErrUnknown.
type Weak[T any] struct {
	h *Handle
}

// weakRef is what a weak handle stores: a weak pointer, which the table
// holding it does not make a root of the value.
type weakRef interface {
	value() (any, error)
}

type weakBox[T any] struct {
	wp weak.Pointer[T]
}

func (b weakBox[T]) value() (any, error) {
	if v := b.wp.Value(); v != nil {
		return v, nil
	}
	return nil, ErrGone
}

// NewWeak returns a weak handle for v, counted in the ledger under tag.
func NewWeak[T any](tag string, v *T) (*Weak[T], error) {
	if v == nil {
		return nil, fmt.Errorf("handle: new weak (tag %q): %w", tag, ErrNil)
	}
	h, err := newHandle(tag, weakBox[T]{weak.Make(v)})
	if err != nil {
		return nil, err
	}
	return &Weak[T]{h: h}, nil
}

// Pointer returns the void* to give C, or nil for a zero or nil Weak.
func (w *Weak[T]) Pointer() unsafe.Pointer {
	if w == nil {
		return nil
	}
	return w.h.Pointer()
}

// Tag returns the tag given at NewWeak, or "" for a zero or nil Weak.
func (w *Weak[T]) Tag() string {
	if w == nil {
		return ""
	}
	return w.h.Tag()
}

// Release ends the handle, like Handle.Release: a second Release (through
// this Weak or a copy) returns an error wrapping ErrReleased, and Release
// of a zero or nil Weak one wrapping ErrInvalid.
func (w *Weak[T]) Release() error {
	if w == nil || w.h == nil {
		return fmt.Errorf("handle: release weak: %w", ErrInvalid)
	}
	return w.h.Release()
}

// Value returns the handle's value, or ErrGone if it was collected,
// ErrReleased after Release, ErrInvalid for a zero or nil Weak.
func (w *Weak[T]) Value() (*T, error) {
	if w == nil || w.h == nil || w.h.v == 0 {
		return nil, fmt.Errorf("handle: weak value: %w", ErrInvalid)
	}
	stored := slots.lookup(w.h.v)
	if stored == nil {
		return nil, fmt.Errorf("handle: weak value of %p (tag %q): %w", asPointer(w.h.v), w.h.Tag(), ErrReleased)
	}
	return weakValue[T](stored, w.h.v)
}

// WeakValue returns the *T behind a weak handle's pointer, as C gave it
// back. It returns ErrGone if the value was collected, ErrUnknown if p is
// not a live handle, and ErrWrongType if the handle is strong or holds
// another type.
func WeakValue[T any](p unsafe.Pointer) (*T, error) {
	return weakValue[T](slots.lookup(uintptr(p)), uintptr(p))
}

// WeakValueOf is WeakValue for a pointer C handed back as an integer
// (uintptr_t); see ValueOf for when to use it.
func WeakValueOf[T any](v uintptr) (*T, error) {
	return weakValue[T](slots.lookup(v), v)
}

func weakValue[T any](stored any, v uintptr) (*T, error) {
	switch b := stored.(type) {
	case nil:
		return nil, fmt.Errorf("handle: weak value of %#x: %w", v, ErrUnknown)
	case weakBox[T]:
		if t := b.wp.Value(); t != nil {
			return t, nil
		}
		return nil, fmt.Errorf("handle: weak value of %#x: %w", v, ErrGone)
	default:
		var zero *T
		return nil, fmt.Errorf("handle: weak value of %#x: holds %T, not a weak %T: %w", v, b, zero, ErrWrongType)
	}
}
