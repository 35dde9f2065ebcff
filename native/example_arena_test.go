package native_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/membridge/membridge/native"
	"github.com/membridge/membridge/tracker"
)

// One arena per request: everything the request allocates goes at once
// when it is done, with no cgo call per allocation.
func ExampleArena() {
	type span struct{ Start, End int32 }

	handle := func(a *native.Arena, words []string) int {
		spans, err := native.MakeSliceIn[span](a, len(words))
		if err != nil {
			panic(err)
		}
		pos := int32(0)
		for i, w := range words {
			spans[i] = span{pos, pos + int32(len(w))}
			pos += int32(len(w)) + 1
		}
		return int(spans[len(spans)-1].End)
	}

	a := native.NewArena("request", 0)
	defer a.Free()
	for _, req := range [][]string{{"native", "memory"}, {"one", "arena", "per", "request"}} {
		fmt.Println(handle(a, req))
		a.Reset() // the next request reuses the chunks
	}
	// Output:
	// 13
	// 21
}

func ExampleNewIn() {
	type header struct {
		Magic   uint32
		Version uint16
	}
	a := native.NewArena("decode", 0)
	defer a.Free()
	h, err := native.NewIn[header](a)
	if err != nil {
		panic(err)
	}
	h.Magic, h.Version = 0xFEED, 2
	fmt.Printf("%#x %d\n", h.Magic, h.Version)
	// Output: 0xfeed 2
}

func ExampleArena_Check() {
	a := native.NewArena("batch", 0)
	defer a.Free()
	gen := a.Generation()
	if _, err := native.NewIn[int64](a); err != nil {
		panic(err)
	}
	fmt.Println(a.Check(gen) == nil)
	a.Reset()
	fmt.Println(errors.Is(a.Check(gen), native.ErrFreed))
	// Output:
	// true
	// true
}

// Shared ownership: each holder releases once; the last release frees.
func ExampleBuffer_Retain() {
	b, _ := native.Alloc("shared", 64)
	b.Retain() // a second holder, e.g. a background writer
	done := make(chan struct{})
	go func() {
		defer close(done)
		b.Release()
	}()
	<-done
	fmt.Println(b.Refs(), b.Err() == nil)
	b.Release() // the last one frees
	fmt.Println(errors.Is(b.Err(), native.ErrFreed))
	// Output:
	// 1 true
	// true
}

// Views borrow part of a buffer; the buffer cannot be freed under them.
func ExampleBuffer_View() {
	b, _ := native.Alloc("packet", 16)
	copy(b.Bytes(), "HDR:payload-data")
	hdr, _ := b.View(0, 4)
	body, _ := b.View(4, 12)
	fmt.Printf("%s %s\n", hdr.Bytes(), body.Bytes())

	err := b.Free()
	fmt.Println(errors.Is(err, native.ErrBorrowed))
	hdr.Release()
	body.Release()
	//membridge:ignore doublefree the example shows that a second Free returns ErrFreed
	fmt.Println(b.Free())
	// Output:
	// HDR: payload-data
	// true
	// <nil>
}

func ExampleBuffer_ViewMut() {
	b, _ := native.AllocZeroed("frame", 8)
	defer b.Free()
	w, _ := b.ViewMut(0, 4)
	//membridge:ignore leak false positive: the view is refused (ErrBorrowed) while the mutable view is out, as the example's output checks
	_, err := b.View(0, 8) // excluded while w is out
	fmt.Println(errors.Is(err, native.ErrBorrowed))
	copy(w.Bytes(), "ABCD")
	w.Release()
	r, _ := b.View(0, 4)
	fmt.Printf("%s\n", r.Bytes())
	r.Release()
	// Output:
	// true
	// ABCD
}

func ExampleRevokeBorrows() {
	b, _ := native.Alloc("revocable", 8)
	v, _ := b.View(0, 8)
	b.Free(native.RevokeBorrows())
	fmt.Println(errors.Is(v.Err(), native.ErrFreed))
	v.Release()
	// Output: true
}

func ExampleBuffer_Freeze() {
	b, _ := native.Alloc("weights", 8)
	copy(b.Bytes(), "constant")
	if err := b.Freeze(); err != nil {
		panic(err)
	}
	//membridge:ignore leak false positive: a frozen buffer refuses a mutable view (ErrFrozen), as the example's output checks
	_, err := b.ViewMut(0, 8)
	fmt.Println(errors.Is(err, native.ErrFrozen))
	v, _ := b.View(0, 8)
	fmt.Printf("%s\n", v.Bytes())
	v.Release()
	b.Free()
	// Output:
	// true
	// constant
}

// A memory budget that gives a service back-pressure: an allocation over
// the budget waits for memory to be released until the request's deadline,
// then the handler answers 503 with Retry-After rather than 500.
func ExampleWaitFor() {
	tracker.SetTagLimit("responses", 1<<20)
	defer tracker.SetTagLimit("responses", 0)

	status := func(ctx context.Context, n int) int {
		b, err := native.Alloc("responses", n, native.WaitFor(ctx))
		switch {
		case errors.Is(err, native.ErrLimit):
			return http.StatusServiceUnavailable // and Retry-After
		case err != nil:
			return http.StatusInternalServerError
		}
		defer b.Free()
		return http.StatusOK
	}

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	fmt.Println(status(ctx, 512<<10))
	fmt.Println(status(ctx, 2<<20))
	// Output:
	// 200
	// 503
}

func ExampleAllocContext() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	b, err := native.AllocContext(ctx, "upload", 4096)
	if err != nil {
		panic(err)
	}
	defer b.Free()
	fmt.Println(b.Len())
	// Output: 4096
}

func ExampleLargeBufferStats() {
	b, _ := native.Alloc("image", 2<<20) // large: pages of its own
	b.Free()                             // kept for the next large buffer
	c, _ := native.Alloc("image", 2<<20)
	defer c.Free()
	fmt.Println(native.LargeBufferStats().Reuses > 0)
	// Output: true
}

func ExampleArena_Alloc() {
	a := native.NewArena("parse", 0)
	defer a.Free()
	p, err := a.Alloc(64, 64) // 64 bytes on a cache line of their own
	if err != nil {
		panic(err)
	}
	fmt.Println(uintptr(p)%64 == 0, a.Stats().UsedBytes >= 64, native.ArenaBytesInUse() >= 0)
	// Output: true true true
}

func ExampleBuffer_ReadAt() {
	b, _ := native.Alloc("table", 5)
	defer b.Free()
	copy(b.Bytes(), "abcde")
	b.Freeze()
	p := make([]byte, 3)
	n, _ := b.ReadAt(p, 1)
	fmt.Println(string(p[:n]), b.Frozen())
	// Output: bcd true
}

func ExampleWaitForBorrows() {
	b, _ := native.Alloc("upload", 16)
	v, _ := b.View(0, 16)
	go func() {
		time.Sleep(time.Millisecond)
		v.Release() // the reader finishes
	}()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	fmt.Println(b.Free(native.WaitForBorrows(ctx)))
	// Output: <nil>
}

func ExampleTrimLargeBuffers() {
	b, _ := native.Alloc("frame", 1<<20)
	b.Free() // its pages are kept for the next large buffer
	native.TrimLargeBuffers()
	fmt.Println(native.LargeBufferStats().KeptBytes)
	// Output: 0
}

// The inlinable fast path for the hottest loops, with Alloc behind it.
func ExampleArena_TryAlloc() {
	a := native.NewArena("tokens", 0)
	defer a.Free()
	var n int
	for range 10000 {
		p := a.TryAlloc(16, 8)
		if p == nil {
			var err error
			if p, err = a.Alloc(16, 8); err != nil {
				panic(err)
			}
		}
		n++
	}
	fmt.Println(n, a.Stats().UsedBytes)
	// Output: 10000 160000
}

// An arena per request that waits for the memory budget as long as the
// request may: over budget past its deadline is a 503, not a 500.
func ExampleArena_WaitFor() {
	tracker.SetTagLimit("request-arena", 1<<20)
	defer tracker.SetTagLimit("request-arena", 0)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()

	a := native.NewArena("request-arena", 512<<10)
	defer a.Free()
	a.WaitFor(ctx)
	_, err1 := a.Alloc(100<<10, 8) // the first chunk: within budget
	_, err2 := a.Alloc(900<<10, 8) // a chunk of its own: over budget until the deadline
	fmt.Println(err1 == nil, errors.Is(err2, native.ErrLimit), errors.Is(err2, context.DeadlineExceeded))
	// Output: true true true
}
