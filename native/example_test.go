package native_test

import (
	"errors"
	"fmt"

	"github.com/membridge/membridge/native"
)

func ExampleAlloc() {
	buf, err := native.Alloc("decoder", 4096)
	if err != nil {
		panic(err)
	}
	defer buf.Free()
	n := copy(buf.Bytes(), "frame header")
	fmt.Println(buf.Len(), n, string(buf.Bytes()[:n]))
	// Output: 4096 12 frame header
}

func ExampleAllocZeroed() {
	buf, err := native.AllocZeroed("table", 64, native.Align(64))
	if err != nil {
		panic(err)
	}
	defer buf.Free()
	fmt.Println(buf.Bytes()[63], uintptr(buf.Ptr())%64)
	// Output: 0 0
}

func ExampleBuffer_Free() {
	buf, _ := native.Alloc("once", 16)
	fmt.Println(buf.Free())
	//membridge:ignore doublefree the example shows that a second Free is idempotent and returns ErrFreed
	err := buf.Free() // idempotent: a second Free frees nothing
	fmt.Println(errors.Is(err, native.ErrFreed))
	// Output:
	// <nil>
	// true
}

func ExampleBuffer_Move() {
	a, _ := native.Alloc("request", 8)
	copy(a.Bytes(), "owned")
	b, _ := a.Move() // b owns the memory now; a is spent
	fmt.Println(string(b.Bytes()[:5]), errors.Is(a.Err(), native.ErrMoved))
	b.Free()
	// Output: owned true
}

func ExampleAllocSliceZeroed() {
	type sample struct {
		ID    int64
		Value float32
	}
	s, err := native.AllocSliceZeroed[sample]("samples", 3)
	if err != nil {
		panic(err)
	}
	defer s.Free()
	for i := range s.Values() {
		s.Values()[i] = sample{ID: int64(i), Value: float32(i) / 2}
	}
	fmt.Println(s.Len(), s.Values()[2])

	//membridge:ignore gopointer the example shows that AllocSliceZeroed refuses Go pointers with ErrPointerType
	_, err = native.AllocSliceZeroed[string]("names", 3)
	fmt.Println(errors.Is(err, native.ErrPointerType))
	// Output:
	// 3 {2 1}
	// true
}
