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
