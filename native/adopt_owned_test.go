package native

import (
	"errors"
	"math"
	"sync"
	"sync/atomic"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/membridge/membridge/cext/leakcheck"
)

// countingFree is a deleter that frees malloc'd memory and counts its
// calls, so that a second free shows as a count (before glibc aborts).
func countingFree(calls *atomic.Int32) Deleter {
	return DeleterFunc("counting_free", func(q unsafe.Pointer) {
		calls.Add(1)
		cFree(uintptr(q), 0, false)
	})
}

// Memory the ledger already owns cannot be adopted: the adopted buffer's
// deleter would free it a second time. Before, each of these Adopts
// succeeded and glibc aborted with "double free" at the second Free.
func TestAdoptRefusesOwnedMemory(t *testing.T) {
	defer leakcheck.Check(t)
	tag := testTag(t)
	b, err := Alloc(tag, 64)
	require.NoError(t, err)
	big, err := Alloc(tag, largeMin) // the large-buffer path
	require.NoError(t, err)
	a := NewArena(tag, 0)
	q, err := a.Alloc(64, 8)
	require.NoError(t, err)
	var calls atomic.Int32
	p := cAlloc(32, 0, fillNone)
	first, err := Adopt(tag, p, 32, countingFree(&calls))
	require.NoError(t, err)

	for name, c := range map[string]struct {
		p unsafe.Pointer
		n int
	}{
		"a buffer's block":             {b.Ptr(), 64},
		"the last byte of a buffer":    {unsafe.Add(b.Ptr(), 63), 1},
		"an interior pointer of it":    {unsafe.Add(b.Ptr(), 16), 8},
		"a large buffer":               {big.Ptr(), largeMin},
		"an arena allocation":          {q, 64},
		"an adopted block":             {p, 32},
		"an adopted block, zero bytes": {p, 0},
	} {
		_, err := Adopt(tag, c.p, c.n, FreeDeleter())
		require.ErrorIs(t, err, ErrAlreadyOwned, name)
		assert.Contains(t, err.Error(), "already owns", name)
		assert.Contains(t, err.Error(), tag, name) // the owner's tag
	}
	require.NoError(t, first.Free())
	require.NoError(t, b.Free())
	require.NoError(t, big.Free())
	require.NoError(t, a.Free())
	assert.Equal(t, int32(1), calls.Load(), "the adopted block's deleter")
}

// The owner's message names where it was allocated, in the debug mode.
func TestAdoptRefusalNamesTheOwner(t *testing.T) {
	defer leakcheck.Check(t)
	b, err := Alloc(testTag(t), 16)
	require.NoError(t, err)
	defer b.Free()
	_, err = Adopt("again", b.Ptr(), 16, FreeDeleter())
	require.ErrorIs(t, err, ErrAlreadyOwned)
	assert.Contains(t, err.Error(), "adopt_owned_test.go") // tests keep every stack
	assert.Contains(t, err.Error(), "c-heap")
}

// Once its owner is done with it the memory may be adopted again: here it
// was handed to C, which owns it now, and then adopted back.
func TestAdoptAfterTheOwnerLetGo(t *testing.T) {
	defer leakcheck.Check(t)
	tag := testTag(t)
	b, err := Alloc(tag, 64)
	require.NoError(t, err)
	p, err := b.HandToC()
	require.NoError(t, err)
	var calls atomic.Int32
	back, err := Adopt(tag, p, 64, countingFree(&calls))
	require.NoError(t, err)
	require.NoError(t, back.Free())

	// An adopted block whose first owner released it without freeing it
	// (a library reference dropped): the library's block is adoptable again.
	q := cAlloc(16, 0, fillNone)
	first, err := Adopt(tag, q, 16, DeleterFunc("unref", func(unsafe.Pointer) {}))
	require.NoError(t, err)
	require.NoError(t, first.Free())
	second, err := Adopt(tag, q, 16, countingFree(&calls))
	require.NoError(t, err)
	require.NoError(t, second.Free())
	assert.Equal(t, int32(2), calls.Load())
}

// Of concurrent Adopts of one block exactly one wins; the others get
// ErrAlreadyOwned and the block is freed once.
func TestConcurrentAdoptOneWins(t *testing.T) {
	defer leakcheck.Check(t)
	tag := testTag(t)
	for range 50 {
		p := cAlloc(48, 0, fillNone)
		var calls atomic.Int32
		bufs := make([]*Buffer, 4)
		errs := make([]error, len(bufs))
		var wg sync.WaitGroup
		for i := range bufs {
			wg.Go(func() { bufs[i], errs[i] = Adopt(tag, p, 48, countingFree(&calls)) })
		}
		wg.Wait()
		won := 0
		for i, err := range errs {
			if err == nil {
				won++
				require.NoError(t, bufs[i].Free())
				continue
			}
			require.ErrorIs(t, err, ErrAlreadyOwned)
		}
		require.Equal(t, 1, won)
		require.Equal(t, int32(1), calls.Load())
	}
}

// A range that wraps past the end of the address space is refused.
func TestAdoptRangeOverflow(t *testing.T) {
	var x [16]byte
	base := unsafe.Pointer(&x[0])
	top := unsafe.Add(base, int(^uintptr(0)-uintptr(base)-15)) // 16 bytes below the end
	_, err := Adopt("x", top, math.MaxInt, FreeDeleter())
	require.True(t, errors.Is(err, ErrInvalidSize), "%v", err)
	_, err = Adopt("x", top, 17, FreeDeleter())
	require.True(t, errors.Is(err, ErrInvalidSize), "%v", err)
}
