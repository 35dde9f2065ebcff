package handle

import (
	"fmt"
	"unsafe"
	"weak"

	pointer "github.com/mattn/go-pointer"
)

// A Weak is a weak handle: C code refers to a *T through Pointer, but the
// handle does not keep the value alive. Release it like a strong handle.
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
	h, err := newHandle(tag, weakBox[T]{weak.Make(v)}, 2)
	if err != nil {
		return nil, err
	}
	return &Weak[T]{h: h}, nil
}

// Pointer returns the void* to give C.
func (w *Weak[T]) Pointer() unsafe.Pointer { return w.h.Pointer() }

// Tag returns the tag given at NewWeak.
func (w *Weak[T]) Tag() string { return w.h.Tag() }

// Release ends the handle, like Handle.Release.
func (w *Weak[T]) Release() error {
	if w == nil {
		return nil
	}
	return w.h.Release()
}

// Value returns the handle's value, or ErrGone if it was collected, or
// ErrReleased after Release.
func (w *Weak[T]) Value() (*T, error) {
	if w.h.released.Load() {
		return nil, fmt.Errorf("handle: value of %p (tag %q): %w", w.h.p, w.h.Tag(), ErrReleased)
	}
	return WeakValue[T](w.h.p)
}

// WeakValue returns the *T behind a weak handle's pointer, as C gave it
// back. It returns ErrGone if the value was collected, ErrUnknown if p is
// not a live handle, and ErrWrongType if the handle is strong or holds
// another type.
func WeakValue[T any](p unsafe.Pointer) (*T, error) {
	switch v := pointer.Restore(p).(type) {
	case nil:
		return nil, fmt.Errorf("handle: weak value of %p: %w", p, ErrUnknown)
	case weakBox[T]:
		if t := v.wp.Value(); t != nil {
			return t, nil
		}
		return nil, fmt.Errorf("handle: weak value of %p: %w", p, ErrGone)
	default:
		var zero *T
		return nil, fmt.Errorf("handle: weak value of %p: holds %T, not a weak %T: %w", p, v, zero, ErrWrongType)
	}
}
