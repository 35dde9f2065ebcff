package cexttest_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/membridge/membridge/cext"
	"github.com/membridge/membridge/cext/cexttest"
	"github.com/membridge/membridge/native"
	"github.com/membridge/membridge/tracker/leaktest"
	"github.com/stretchr/testify/require"
)

func TestMain(m *testing.M) { leaktest.VerifyTestMain(m) }

func TestFailNextAllocs(t *testing.T) {
	defer leaktest.VerifyNone(t)
	cexttest.FailNextAllocs(2)
	defer cexttest.FailNextAllocs(0)
	for i := range 2 {
		if b, err := cext.Alloc("cext-fault", 64); err == nil {
			b.Free()
			t.Fatalf("allocation %d succeeded with failures pending", i)
		}
	}
	b, err := cext.Alloc("cext-fault", 64)
	require.NoError(t, err, "the third allocation still failed")
	b.Free()
}

func TestFailNextAllocsCancel(t *testing.T) {
	defer leaktest.VerifyNone(t)
	cexttest.FailNextAllocs(5)
	cexttest.FailNextAllocs(0)
	b, err := cext.Alloc("cext-fault", 64)
	require.NoError(t, err, "an allocation failed after FailNextAllocs(0)")
	b.Free()
}

// A test of how code copes with a C extension out of memory: the next
// allocation through membridge.h fails, the one after succeeds.
func ExampleFailNextAllocs() {
	cexttest.FailNextAllocs(1)
	defer cexttest.FailNextAllocs(0)
	//membridge:ignore leak the allocation fails on purpose: there is no buffer to free
	_, err := cext.Alloc("example/fault", 64)
	fmt.Println(errors.Is(err, native.ErrOutOfMemory))
	b, err := cext.Alloc("example/fault", 64)
	fmt.Println(err)
	b.Free()
	// Output:
	// true
	// <nil>
}
