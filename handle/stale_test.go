package handle_test

import (
	"errors"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/membridge/membridge/cext/leakcheck"
	"github.com/membridge/membridge/handle"
	"github.com/membridge/membridge/handle/internal/notify"
	"github.com/membridge/membridge/tracker/leaktest"
)

// forge makes an unsafe.Pointer of v the way C code hands one back. Only
// values the Go runtime accepts in a pointer go through it (not small
// integers: see handle.ValueOf); the others are forged in C (notify.Lookup).
func forge(v uintptr) unsafe.Pointer { return *(*unsafe.Pointer)(unsafe.Pointer(&v)) }

// TestStaleHandleIsUnknown: after Release, the next New (which reuses the
// released slot, and often go-pointer's freed key) must not make the old
// pointer resolve to the new value, in Go or through C.
func TestStaleHandleIsUnknown(t *testing.T) {
	defer leakcheck.Check(t)
	for _, weak := range []bool{false, true} {
		old, cur := notify.NewPlain(), notify.NewPlain()
		release, p := newAny(t, weak, old)
		require.NoError(t, release())
		release2, p2 := newAny(t, weak, cur)
		assert.NotEqual(t, p, p2, "weak=%v: a released handle's pointer was issued again", weak)

		_, err := handle.Value(p)
		assert.ErrorIs(t, err, handle.ErrUnknown, "weak=%v: Value of the stale pointer", weak)
		_, err = handle.WeakValue[notify.Counter](p)
		assert.ErrorIs(t, err, handle.ErrUnknown, "weak=%v: WeakValue of the stale pointer", weak)
		v, err := notify.Lookup(uintptr(p))
		assert.ErrorIs(t, err, handle.ErrUnknown, "weak=%v: C-side lookup of the stale pointer found %v", weak, v)
		v, err = handle.Value(p2)
		assert.NoError(t, err)
		assert.Same(t, cur, v, "weak=%v: the new handle", weak)
		require.NoError(t, release2())
	}
}

// newAny makes a strong or weak handle for c and returns its Release and
// Pointer.
func newAny(t *testing.T, weak bool, c *notify.Counter) (func() error, unsafe.Pointer) {
	t.Helper()
	if weak {
		w, err := handle.NewWeak("handle.stale", c)
		require.NoError(t, err)
		return w.Release, w.Pointer()
	}
	h, err := handle.New("handle.stale", c)
	require.NoError(t, err)
	return h.Release, h.Pointer()
}

// TestSlotReuseNeverResolvesStale: one slot released and reused many
// times; every pointer it had before answers ErrUnknown.
func TestSlotReuseNeverResolvesStale(t *testing.T) {
	defer leakcheck.Check(t)
	var stale []unsafe.Pointer
	for i := range 1000 {
		h, err := handle.New("handle.reuse", i)
		require.NoError(t, err)
		v, err := handle.Value(h.Pointer())
		require.NoError(t, err)
		require.Equal(t, i, v)
		stale = append(stale, h.Pointer())
		require.NoError(t, h.Release())
	}
	live, err := handle.New("handle.reuse", "live")
	require.NoError(t, err)
	defer live.Release()
	for _, p := range stale {
		require.NotEqual(t, p, live.Pointer())
		_, err := handle.Value(p)
		require.ErrorIs(t, err, handle.ErrUnknown)
	}
}

// TestForgedValues: values no handle was given resolve to ErrUnknown, in
// Go and through C, and never to a live handle's value.
func TestForgedValues(t *testing.T) {
	defer leakcheck.Check(t)
	h, err := handle.New("handle.forged", "strong")
	require.NoError(t, err)
	defer h.Release()
	w, err := handle.NewWeak("handle.forged", notify.NewPlain())
	require.NoError(t, err)
	defer w.Release()
	var x int
	rnd := rand.New(rand.NewPCG(1, 2))
	for _, live := range []uintptr{uintptr(h.Pointer()), uintptr(w.Pointer())} {
		forged := []uintptr{0, 1, 4096, live - 1, live + 1, live ^ 1<<32, live ^ 1<<40, live &^ (1 << 63), math.MaxUint64, math.MaxUint64 - 1, 1 << 63, uintptr(unsafe.Pointer(&x))}
		for range 100 {
			forged = append(forged, uintptr(rnd.Uint64()), uintptr(rnd.Uint64()|1<<63))
		}
		for _, v := range forged {
			if v == uintptr(h.Pointer()) || v == uintptr(w.Pointer()) {
				continue // a random draw that hit a live value is not forged
			}
			got, err := notify.Lookup(v)
			assert.ErrorIs(t, err, handle.ErrUnknown, "C-side lookup of %#x found %v", v, got)
			got, err = handle.ValueOf(v)
			assert.ErrorIs(t, err, handle.ErrUnknown, "ValueOf(%#x) = %v", v, got)
			_, err = handle.WeakValueOf[notify.Counter](v)
			assert.ErrorIs(t, err, handle.ErrUnknown, "WeakValueOf(%#x)", v)
			if v != 0 && v < 1<<12 {
				continue // not a value the runtime accepts in an unsafe.Pointer
			}
			if v>>63 == 0 && v != uintptr(unsafe.Pointer(&x)) {
				continue // might land in the Go heap, which the runtime checks
			}
			got, err = handle.Value(forge(v))
			assert.ErrorIs(t, err, handle.ErrUnknown, "Value(%#x) = %v", v, got)
			_, err = handle.WeakValue[notify.Counter](forge(v))
			assert.ErrorIs(t, err, handle.ErrUnknown, "WeakValue(%#x)", v)
		}
	}
}

// TestDoubleAndCopiedRelease: a handle released twice, or through two
// copies, ends once; the second Release says ErrReleased and touches
// nothing of the handle made in between.
func TestDoubleAndCopiedRelease(t *testing.T) {
	defer leakcheck.Check(t)
	t.Run("strong copy", func(t *testing.T) {
		h, err := handle.New("handle.copy", "first")
		require.NoError(t, err)
		c := *h
		require.NoError(t, h.Release())
		next, err := handle.New("handle.copy", "second")
		require.NoError(t, err)
		assert.ErrorIs(t, c.Release(), handle.ErrReleased)
		//membridge:ignore doublefree the test checks that a second Release returns ErrReleased even after a new handle took the slot
		assert.ErrorIs(t, h.Release(), handle.ErrReleased)
		v, err := handle.Value(next.Pointer())
		require.NoError(t, err, "a stale Release ended another handle")
		assert.Equal(t, "second", v)
		require.NoError(t, next.Release())
	})
	t.Run("weak copy", func(t *testing.T) {
		val := notify.NewPlain()
		w, err := handle.NewWeak("handle.copy", val)
		require.NoError(t, err)
		c := *w
		require.NoError(t, c.Release())
		_, err = w.Value()
		assert.ErrorIs(t, err, handle.ErrReleased, "Value after Release")
		_, err = handle.WeakValue[notify.Counter](w.Pointer())
		assert.ErrorIs(t, err, handle.ErrUnknown, "WeakValue after Release")
		next, err := handle.NewWeak("handle.copy", val)
		require.NoError(t, err)
		assert.ErrorIs(t, w.Release(), handle.ErrReleased)
		assert.ErrorIs(t, c.Release(), handle.ErrReleased)
		got, err := next.Value()
		require.NoError(t, err, "a stale Release ended another handle")
		assert.Same(t, val, got)
		require.NoError(t, next.Release())
	})
}

// TestConcurrentStaleLookups: goroutines make, look up and release
// handles while others look up the pointers of released ones; a stale
// lookup never succeeds and a live one always finds its own value.
func TestConcurrentStaleLookups(t *testing.T) {
	defer leakcheck.Check(t)
	const workers, rounds = 4, 2000
	var (
		mu    sync.Mutex
		stale []unsafe.Pointer
		done  atomic.Bool
		wg    sync.WaitGroup
		bad   atomic.Int64
	)
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !done.Load() {
				mu.Lock()
				ps := stale[max(0, len(stale)-64):]
				mu.Unlock()
				for _, p := range ps {
					if v, err := handle.Value(p); !errors.Is(err, handle.ErrUnknown) {
						bad.Add(1)
						t.Errorf("stale %p resolved: %v, %v", p, v, err)
					}
				}
			}
		}()
	}
	var makers sync.WaitGroup
	for g := range workers {
		makers.Add(1)
		go func() {
			defer makers.Done()
			for i := range rounds {
				want := [2]int{g, i}
				var p unsafe.Pointer
				var release func() error
				var keep any // a weak handle's value, alive until looked up
				if i%2 == 0 {
					h, err := handle.New("handle.concurrent", want)
					if err != nil {
						t.Error(err)
						return
					}
					p, release = h.Pointer(), h.Release
				} else {
					val := &want
					w, err := handle.NewWeak("handle.concurrent", val)
					if err != nil {
						t.Error(err)
						return
					}
					p, release, keep = w.Pointer(), w.Release, val
				}
				v, err := handle.Value(p)
				switch got := v.(type) {
				case [2]int:
					if got != want {
						t.Errorf("live %p = %v, want %v", p, got, want)
					}
				case *[2]int:
					if *got != want {
						t.Errorf("live %p = %v, want %v", p, *got, want)
					}
				default:
					t.Errorf("live %p = %v, %v", p, v, err)
				}
				runtime.KeepAlive(keep)
				assert.NoError(t, release())
				mu.Lock()
				stale = append(stale, p)
				mu.Unlock()
			}
		}()
	}
	makers.Wait()
	done.Store(true)
	wg.Wait()
	assert.Zero(t, bad.Load())
}

// TestCopyOutlivesDroppedHandle: a copy of a Handle kept while the *Handle
// New returned is dropped. The safety net ends the handle (and the test
// mode reports the drop); the copy then finds it released, and its value
// unknown, with no second free of go-pointer's key.
func TestCopyOutlivesDroppedHandle(t *testing.T) {
	defer leakcheck.Check(t)
	var c handle.Handle
	func() {
		//membridge:ignore leak the test drops the handle on purpose and checks that the safety net ends it while a copy is kept
		h, err := handle.New("handle.dropped", "value")
		require.NoError(t, err)
		c = *h
	}()
	require.True(t, gc(func() bool {
		_, err := handle.Value(c.Pointer())
		return errors.Is(err, handle.ErrUnknown)
	}), "the safety net did not end the dropped handle")
	assert.ErrorIs(t, c.Release(), handle.ErrReleased)
	var r leaktest.Recorder
	leaktest.VerifyNone(&r, leaktest.MaxWait(200*time.Millisecond))
	require.Len(t, r.Reports(), 1)
	assert.Contains(t, r.Reports()[0], `tag "handle.dropped", kind go-handle`)
}
