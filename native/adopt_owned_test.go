package native

import (
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/membridge/membridge/cext/leakcheck"
	"github.com/membridge/membridge/internal/testkit"
	"github.com/membridge/membridge/tracker"
	"github.com/membridge/membridge/tracker/stacks"
)

// countingFree is a deleter that frees malloc'd memory and counts its
// calls, so that a second free shows as a count (before glibc aborts).
func countingFree(calls *atomic.Int32) Deleter {
	return DeleterFunc("counting_free", func(q unsafe.Pointer) {
		calls.Add(1)
		cFree(uintptr(q), 0, false)
	})
}

// inModes runs f in the debug mode (stack rate 1, what tests run in) and
// in the default sampled mode, where Adopt's check rests on the owned map
// alone.
func inModes(t *testing.T, f func(t *testing.T, debug bool)) {
	for _, debug := range []bool{true, false} {
		t.Run(fmt.Sprintf("debug=%v", debug), func(t *testing.T) {
			if !debug {
				defer tracker.SetStackRate(tracker.SetStackRate(stacks.DefaultSampleRate))
				defer tracker.SetChecking(tracker.SetChecking(false))
			}
			require.Equal(t, debug, tracker.Checking())
			f(t, debug)
		})
	}
}

// Memory the ledger already owns cannot be adopted: the adopted buffer's
// deleter would free it a second time (glibc aborts with "double free").
func TestAdoptRefusesOwnedMemory(t *testing.T) {
	inModes(t, testAdoptRefusesOwnedMemory)
}

func testAdoptRefusesOwnedMemory(t *testing.T, debug bool) {
	defer leakcheck.Check(t)
	tag := testkit.UniqueTag(t)
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

	frozen, err := Alloc(tag, 64)
	require.NoError(t, err)
	require.NoError(t, frozen.Freeze()) // in the debug mode its bytes move to pages of their own
	_, err = Adopt(tag, frozen.Ptr(), 64, FreeDeleter())
	require.ErrorIs(t, err, ErrAlreadyOwned, "a frozen buffer")
	require.NoError(t, frozen.Free())
	for name, c := range map[string]struct {
		p         unsafe.Pointer
		n         int
		debugOnly bool
	}{
		"a buffer's block":             {b.Ptr(), 64, false},
		"the last byte of a buffer":    {unsafe.Add(b.Ptr(), 63), 1, true},
		"an interior pointer of it":    {unsafe.Add(b.Ptr(), 16), 8, true},
		"a large buffer":               {big.Ptr(), largeMin, false},
		"inside a large buffer":        {unsafe.Add(big.Ptr(), 4096), 8, true},
		"an arena allocation":          {q, 64, false},
		"the arena chunk's last byte":  {unsafe.Add(q, DefaultArenaChunk-1), 1, false},
		"an adopted block":             {p, 32, false},
		"an adopted block, zero bytes": {p, 0, false},
	} {
		if c.debugOnly && !debug {
			continue
		}
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
	b, err := Alloc(testkit.UniqueTag(t), 16)
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
	inModes(t, func(t *testing.T, _ bool) { testAdoptAfterTheOwnerLetGo(t) })
}

func testAdoptAfterTheOwnerLetGo(t *testing.T) {
	defer leakcheck.Check(t)
	tag := testkit.UniqueTag(t)
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
	inModes(t, func(t *testing.T, _ bool) { testConcurrentAdoptOneWins(t) })
}

func testConcurrentAdoptOneWins(t *testing.T) {
	defer leakcheck.Check(t)
	tag := testkit.UniqueTag(t)
	for range 50 {
		p := cAlloc(48, 0, fillNone)
		var calls atomic.Int32
		bufs := make([]*Buffer, 4)
		errs := make([]error, len(bufs))
		var wg sync.WaitGroup
		for i := range bufs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				bufs[i], errs[i] = Adopt(tag, p, 48, countingFree(&calls))
			}()
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
	_, err := Adopt("x", top, math.MaxInt, FreeDeleter())      //membridge:ignore leak the Adopt is refused
	require.True(t, errors.Is(err, ErrInvalidSize), "%v", err)
	_, err = Adopt("x", top, 17, FreeDeleter()) //membridge:ignore leak the Adopt is refused
	require.True(t, errors.Is(err, ErrInvalidSize), "%v", err)
}

// BenchmarkAdopt times an Adopt+Free pair with live buffers in the ledger:
// in the default mode the ownership check is one look at the owned map;
// in the debug mode it also visits every live record.
func BenchmarkAdopt(b *testing.B) {
	p := cAlloc(64, 0, fillNone)
	defer cFree(uintptr(p), 64, false)
	keep := DeleterFunc("keep", func(unsafe.Pointer) {})
	for _, c := range []struct {
		live int
		rate int64
	}{{0, stacks.DefaultSampleRate}, {10000, stacks.DefaultSampleRate}, {0, 1}, {10000, 1}} {
		live := c.live
		b.Run(fmt.Sprintf("live=%d/debug=%v", live, c.rate == 1), func(b *testing.B) {
			defer tracker.SetStackRate(tracker.SetStackRate(c.rate))
			defer tracker.SetChecking(tracker.SetChecking(c.rate == 1))
			bufs := make([]*Buffer, live)
			for i := range bufs {
				bufs[i], _ = Alloc("bench-live", 64)
			}
			for b.Loop() {
				a, err := Adopt("bench-adopt", p, 64, keep)
				if err != nil {
					b.Fatal(err)
				}
				a.Free()
			}
			b.StopTimer()
			for _, x := range bufs {
				x.Free()
			}
		})
	}
}

// Every way memory stops being owned clears its mark, so that whoever
// owns the address next (malloc may hand it out again at once) can adopt
// it.
func TestOwnedMapForgetsWhatIsGivenBack(t *testing.T) {
	inModes(t, func(t *testing.T, _ bool) {
		defer leakcheck.Check(t)
		tag := testkit.UniqueTag(t)
		for name, own := range map[string]func() (uintptr, func()){
			"Free": func() (uintptr, func()) {
				b, _ := Alloc(tag, 64)
				return uintptr(b.Ptr()), func() { b.Free() }
			},
			"Free of a large buffer": func() (uintptr, func()) {
				b, _ := Alloc(tag, largeMin)
				return uintptr(b.Ptr()), func() { b.Free() }
			},
			"Free of a frozen buffer": func() (uintptr, func()) {
				b, _ := Alloc(tag, 64)
				b.Freeze()
				return uintptr(b.Ptr()), func() { b.Free() }
			},
			"Free of an adopted block": func() (uintptr, func()) {
				b, _ := Adopt(tag, cAlloc(16, 0, fillNone), 16, FreeDeleter())
				return uintptr(b.Ptr()), func() { b.Free() }
			},
			"Move, then Free": func() (uintptr, func()) {
				b, _ := Alloc(tag, 64)
				m, _ := b.Move()
				return uintptr(m.Ptr()), func() { m.Free() }
			},
			"HandToC": func() (uintptr, func()) {
				b, _ := Alloc(tag, 64)
				p := uintptr(b.Ptr())
				return p, func() { q, _ := b.HandToC(); cFree(uintptr(q), 64, false) }
			},
			"arena Free": func() (uintptr, func()) {
				a := NewArena(tag, 0)
				p, _ := a.Alloc(64, 8)
				return uintptr(p), func() { a.Free() }
			},
		} {
			p, end := own()
			require.True(t, owned(p), "%s: not marked while owned", name)
			end()
			require.False(t, owned(p), "%s: still marked", name)
		}
	})
}

// The map's range marks cover exactly the range, across words and leaves.
func TestOwnedMapRanges(t *testing.T) {
	const leaf = 1 << ownedLeafShift
	base := uintptr(0x7e00_0000_0000) // an address no allocation of this test has
	for _, c := range []struct{ off, n uintptr }{{0, 16}, {16, 48}, {1000, 5000}, {leaf - 64, 256}, {leaf - 4096, 3 * leaf}} {
		p := base + c.off
		markOwnedRange(p, int(c.n))
		assert.False(t, owned(p-16), "the granule before %#x", c.off)
		step := uintptr(16)
		if c.n > 1<<16 {
			step = 4096 + 16 // a sample of the granules, in every leaf
		}
		for q := p; q < p+c.n; q += step {
			require.True(t, owned(q), "%#x+%d", c.off, q-p)
		}
		require.True(t, owned(p+c.n-1))
		assert.False(t, owned(p+c.n), "the granule after %#x+%d", c.off, c.n)
		unmarkOwnedRange(p)
		for q := p; q < p+c.n; q += step {
			require.False(t, owned(q))
		}
	}
	// Blocks off a granule: two in one granule are two blocks; one in the
	// first granule of a marked block lies in that block.
	odd := base + 3
	require.True(t, claimOwned(odd))
	require.True(t, claimOwned(odd+1))
	require.False(t, claimOwned(odd), "marked twice")
	unmarkOwned(odd)
	unmarkOwned(odd + 1)
	require.False(t, owned(odd))
	require.True(t, claimOwned(base))
	require.False(t, claimOwned(odd), "a pointer into a marked block's first granule")
	unmarkOwned(base)
	assert.True(t, claimOwned(1<<ownedAddrBits), "an address past the map counts as clear")
	assert.True(t, claimOwned(1<<ownedAddrBits), "and is never marked")
}
