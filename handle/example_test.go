package handle_test

import (
	"errors"
	"fmt"
	"runtime"

	"github.com/membridge/membridge/handle"
)

func ExampleNew() {
	h, err := handle.New("example.callback", "user data for C")
	if err != nil {
		panic(err)
	}
	p := h.Pointer() // give p to C as its void* user data
	// ... later, C hands p back to a Go callback:
	v, err := handle.Value(p)
	fmt.Println(v, err)
	fmt.Println(h.Release())
	//membridge:ignore doublefree the example shows that a second Release returns ErrReleased
	fmt.Println(errors.Is(h.Release(), handle.ErrReleased))
	// Output:
	// user data for C <nil>
	// <nil>
	// true
}

func ExampleNewWeak() {
	type session struct{ id int }
	s := &session{id: 7}
	w, err := handle.NewWeak("example.session", s)
	if err != nil {
		panic(err)
	}
	defer w.Release()
	got, err := handle.WeakValue[session](w.Pointer())
	fmt.Println(got.id, err)
	runtime.KeepAlive(s)
	// Output: 7 <nil>
}

// A Go callback that C may hand a stale or made-up void* receives it as
// uintptr_t and looks it up with ValueOf: a released handle's value never
// finds another handle, even when the next New reuses its slot.
func ExampleValueOf() {
	h, err := handle.New("example.stale", "first")
	if err != nil {
		panic(err)
	}
	user := uintptr(h.Pointer()) // what C stored, as the callback receives it
	fmt.Println(handle.ValueOf(user))
	h.Release()
	next, err := handle.New("example.stale", "second")
	if err != nil {
		panic(err)
	}
	defer next.Release()
	//membridge:ignore useafterfree the example shows that the value C kept for a released handle is unknown, not another handle's
	_, err = handle.ValueOf(user)
	fmt.Println(errors.Is(err, handle.ErrUnknown))
	var zero handle.Handle
	fmt.Println(errors.Is(zero.Release(), handle.ErrInvalid))
	// Output:
	// first <nil>
	// true
	// true
}

func ExampleWeakValueOf() {
	type session struct{ id int }
	s := &session{id: 9}
	w, err := handle.NewWeak("example.session", s)
	if err != nil {
		panic(err)
	}
	user := uintptr(w.Pointer())
	got, err := handle.WeakValueOf[session](user)
	fmt.Println(got.id, err)
	w.Release()
	//membridge:ignore useafterfree the example shows that the value C kept for a released weak handle is unknown
	_, err = handle.WeakValueOf[session](user)
	fmt.Println(errors.Is(err, handle.ErrUnknown))
	runtime.KeepAlive(s)
	// Output:
	// 9 <nil>
	// true
}
