package cext_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/membridge/membridge/cext"
	"github.com/membridge/membridge/cext/internal/cmem"
	"github.com/membridge/membridge/tracker"
	"github.com/membridge/membridge/tracker/leaktest"
)

// C code allocates through membridge.h; Sync brings its counters into the
// ledger (outside the test mode, where nothing is traced).
func ExampleSync() {
	prev := tracker.SetStackRate(0)
	defer tracker.SetStackRate(prev)
	cext.FollowChecking()
	defer cext.FollowChecking()

	tag := cmem.Tag("example.sync")
	p := cmem.Malloc(tag, 4096) // what a C extension does
	cext.Sync()
	s := tracker.TagStats("example.sync")
	fmt.Println(s.LiveBytes, s.LiveCount)
	cmem.Free(p)
	cext.Sync()
	fmt.Println(tracker.TagStats("example.sync").LiveBytes)
	// Output:
	// 4096 1
	// 0
}

// A C function returned a block its caller must release with the
// extension's own deleter; Adopt makes it a Go buffer that Free releases.
func ExampleAdopt() {
	tag := cmem.Tag("example.adopt")
	p := cmem.Malloc(tag, 64) // returned by the extension
	buf, err := cext.Adopt(p, "cmem_deleter", cmem.Deleter)
	if err != nil {
		panic(err)
	}
	fmt.Println(buf.Len(), buf.Tag(), buf.Snapshot().Kind)
	buf.Free() // calls cmem_deleter(p)
	// Output: 64 example.adopt adopted
}

// Memory made in Go for C code that will free it with membridge_free.
func ExampleHandToC() {
	buf, err := cext.Alloc("example.handtoc", 32)
	if err != nil {
		panic(err)
	}
	copy(buf.Bytes(), "config for C")
	p, err := cext.HandToC(buf)
	if err != nil {
		panic(err)
	}
	fmt.Println(buf.Err() != nil) // the buffer no longer owns it
	cmem.Free(p)                  // C frees it
	// Output: true
}

func ExampleFree() {
	p := cmem.Malloc(cmem.Tag("example.free"), 16)
	fmt.Println(cext.Free(p))
	f := cmem.Foreign()
	defer cmem.FreeForeign(f)
	fmt.Println(errors.Is(cext.Free(f), cext.ErrForeign))
	// Output:
	// <nil>
	// true
}

func ExampleFollowChecking() {
	// In the test mode (every stack kept) C allocations are traced.
	fmt.Println(cext.FollowChecking())
	// Output: true
}

// FreeLeaked cleans up after a leak a test provoked on purpose.
func ExampleFreeLeaked() {
	cext.FollowChecking()
	p := cmem.Malloc(cmem.Tag("example.leaked"), 8)
	_ = p // the C code "forgets" it
	for _, r := range tracker.LiveSnapshots() {
		if r.Tag == "example.leaked" {
			fmt.Println(r.Kind, r.Bytes, cext.FreeLeaked(r))
		}
	}
	// Output: c-extension 8 <nil>
}

func ExampleTracing() {
	// In a package that calls C extensions:
	//
	//	func TestMain(m *testing.M) { leaktest.VerifyTestMain(cext.Tracing(m)) }
	var m leaktest.TestingM = &testing.M{}
	_ = cext.Tracing(m)
}
