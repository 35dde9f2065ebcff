package handle_test

import (
	"errors"
	"runtime"
	"runtime/cgo"
	"testing"
	"time"
	"unsafe"

	"github.com/membridge/membridge/cext/leakcheck"
	"github.com/membridge/membridge/handle"
	"github.com/membridge/membridge/handle/internal/notify"
	"github.com/membridge/membridge/internal/benchround"
	"github.com/membridge/membridge/internal/testkit"
	"github.com/membridge/membridge/native"
	"github.com/membridge/membridge/tracker"
	"github.com/membridge/membridge/tracker/leaktest"
	"github.com/membridge/membridge/tracker/stacks"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type payload struct{ name string }

func TestStrongRoundTrip(t *testing.T) {
	defer leakcheck.Check(t)
	v := &payload{"strong"}
	h, err := handle.New("handle.test", v)
	require.NoError(t, err)
	got, err := handle.Value(h.Pointer())
	if err != nil || got != v {
		t.Fatalf("Value = %v, %v; want %v", got, err, v)
	}
	if s := tracker.TagStats("handle.test"); s.LiveCount != 1 || s.LiveBytes != 1 {
		t.Errorf("TagStats = %+v, want one live handle", s)
	}
	require.NoError(t, h.Release())
	//membridge:ignore useafterfree the test checks that the pointer of a released handle resolves to ErrUnknown
	if _, err := handle.Value(h.Pointer()); !errors.Is(err, handle.ErrUnknown) {
		t.Errorf("Value after Release: %v, want ErrUnknown", err)
	}
}

// TestDoubleReleaseIsHarmless: go-pointer's Unref frees its key twice
// when called twice; a handle's second Release does nothing and says so.
func TestDoubleReleaseIsHarmless(t *testing.T) {
	defer leakcheck.Check(t)
	h, err := handle.New("handle.double", 42)
	require.NoError(t, err)
	before := tracker.TagStats("handle.double")
	require.NoError(t, h.Release())
	//membridge:ignore doublefree the test checks that a second Release returns ErrReleased
	err = h.Release()
	if !errors.Is(err, handle.ErrReleased) || !errors.Is(err, native.ErrFreed) {
		t.Fatalf("second Release: %v, want ErrReleased wrapping native.ErrFreed", err)
	}
	for _, want := range []string{"handle.double", "made at", "TestDoubleReleaseIsHarmless", "first released at"} {
		assert.Contains(t, err.Error(), want, "second Release error lacks %q: %v", want, err)
	}
	if s := tracker.TagStats("handle.double"); s.FreedCount != before.FreedCount+1 {
		t.Errorf("freed count moved by %d, want 1", s.FreedCount-before.FreedCount)
	}
	// Concurrent releases: exactly one succeeds.
	h2, _ := handle.New("handle.double", 43)
	errs := make(chan error, 8)
	for range 8 {
		go func() { errs <- h2.Release() }()
	}
	ok := 0
	for range 8 {
		if <-errs == nil {
			ok++
		}
	}
	assert.EqualValues(t, 1, ok, "concurrent Releases of 8 that succeeded")
}

func TestLookupErrors(t *testing.T) {
	defer leakcheck.Check(t)
	if _, err := handle.New("handle.nil", nil); !errors.Is(err, handle.ErrNil) {
		t.Errorf("New(nil): %v, want ErrNil", err)
	}
	if _, err := handle.NewWeak[payload]("handle.nil", nil); !errors.Is(err, handle.ErrNil) {
		t.Errorf("NewWeak(nil): %v, want ErrNil", err)
	}
	var x int
	if _, err := handle.Value(unsafe.Pointer(&x)); !errors.Is(err, handle.ErrUnknown) {
		t.Errorf("Value of a random pointer: %v, want ErrUnknown", err)
	}
	h, _ := handle.New("handle.types", &payload{})
	defer h.Release()
	if _, err := handle.WeakValue[payload](h.Pointer()); !errors.Is(err, handle.ErrWrongType) {
		t.Errorf("WeakValue of a strong handle: %v, want ErrWrongType", err)
	}
	w, _ := handle.NewWeak("handle.types", &payload{})
	defer w.Release()
	if _, err := handle.WeakValue[int](w.Pointer()); !errors.Is(err, handle.ErrWrongType) {
		t.Errorf("WeakValue of another type: %v, want ErrWrongType", err)
	}
}

// gc collects until cond holds or testkit.Patience passes, and reports
// whether it held.
func gc(cond func() bool) bool { return testkit.Until(cond, tracker.GC) }

func TestWeakValueGone(t *testing.T) {
	defer leakcheck.Check(t)
	v := &payload{"weak"}
	w, err := handle.NewWeak("handle.weak", v)
	require.NoError(t, err)
	defer w.Release()
	got, err := handle.WeakValue[payload](w.Pointer())
	if err != nil || got != v {
		t.Fatalf("WeakValue = %v, %v; want %v", got, err, v)
	}
	runtime.KeepAlive(v)
	v, got = nil, nil
	require.True(t, gc(func() bool { _, err := w.Value(); return errors.Is(err, handle.ErrGone) }), "the weak handle kept its value alive")
	if _, err := handle.Value(w.Pointer()); !errors.Is(err, handle.ErrGone) {
		t.Errorf("Value of a gone weak handle: %v, want ErrGone", err)
	}
}

func TestCallbackThroughC(t *testing.T) {
	defer leakcheck.Check(t)
	for _, weak := range []bool{false, true} {
		c, err := notify.NewCounter(weak)
		require.NoError(t, err)
		c.Fire(7, 3)
		assert.EqualValues(t, 3, c.Events(), "weak=%v: %d events reached Go, want 3", weak, c.Events())
		require.NoError(t, c.Close())
		assert.ErrorIs(t, c.Close(), handle.ErrReleased, "second Close")
	}
}

// TestWeakCycleIsCollected: a Counter owns a C notifier that holds a weak
// handle back to it. Dropped without Close, it is collected; its cleanup
// frees the notifier and releases the handle, so nothing is left.
func TestWeakCycleIsCollected(t *testing.T) {
	defer leakcheck.Check(t)
	func() {
		c, err := notify.NewCounter(true)
		require.NoError(t, err)
		c.Fire(1, 2)
	}()
	require.True(t, gc(func() bool { return tracker.TagStats(notify.Tag).LiveCount == 0 }), "the weak cycle was not collected: %+v", tracker.TagStats(notify.Tag))
	assert.True(t, gc(func() bool { return tracker.TagStats("notifier").LiveCount == 0 }), "the notifier was not freed: %+v", tracker.TagStats("notifier"))
}

// TestStrongCycleIsReportedAsLeak: the same cycle with a strong handle is
// never collected, and the test mode reports both the handle and the C
// notifier with the stack that made them.
func TestStrongCycleIsReportedAsLeak(t *testing.T) {
	defer leakcheck.Check(t)
	var user unsafe.Pointer
	func() {
		c, err := notify.NewCounter(false)
		require.NoError(t, err)
		c.Fire(1, 2)
		user = c.UserData()
	}()
	var r leaktest.Recorder
	leaktest.VerifyNone(&r, leaktest.MaxWait(200*time.Millisecond))
	require.Len(t, r.Reports(), 1, "VerifyNone reported")
	for _, want := range []string{`tag "notify.counter", kind go-handle`, `tag "notifier", kind c-extension`, "notify.NewCounter", "TestStrongCycleIsReportedAsLeak"} {
		assert.Contains(t, r.Reports()[0], want, "leak report lacks")
	}
	// Break the cycle by hand: the handle still leads to the Counter.
	v, err := handle.Value(user)
	require.NoError(t, err)
	require.NoError(t, v.(*notify.Counter).Close())
}

// TestCallbackAfterGone: C calling back with a weak handle whose value is
// gone is dropped, not a crash.
func TestCallbackAfterGone(t *testing.T) {
	defer leakcheck.Check(t)
	w, err := handle.NewWeak("handle.gone", notify.NewPlain())
	require.NoError(t, err)
	defer w.Release()
	require.True(t, gc(func() bool { _, err := w.Value(); return errors.Is(err, handle.ErrGone) }), "value not collected")
	before := notify.GoneEvents()
	notify.Call(w.Pointer())
	assert.Equal(t, before+1, notify.GoneEvents(), "the callback did not see the value gone")
}

// BenchmarkRoundTrip: make a handle, pass it through C to a Go callback
// that looks it up, release it; against runtime/cgo.Handle doing the same.
// Besides wall time, each reports cpu-ns/op, the CPU time of the one
// thread the loop runs on, which a busy machine disturbs far less.
func BenchmarkRoundTrip(b *testing.B) {
	var cases []benchround.Case
	prev := tracker.SetStackRate(stacks.DefaultSampleRate)
	defer tracker.SetStackRate(prev)
	v := notify.NewPlain()
	cases = append(cases, benchround.Case{Name: "through-C/handle.New", Run: func(b *testing.B) {
		loopCPU(b, func() {
			h, _ := handle.New("bench", v)
			notify.Call(h.Pointer())
			h.Release()
		})
	}})
	cases = append(cases, benchround.Case{Name: "through-C/handle.NewWeak", Run: func(b *testing.B) {
		loopCPU(b, func() {
			w, _ := handle.NewWeak("bench", v)
			notify.Call(w.Pointer())
			w.Release()
		})
	}})
	cases = append(cases, benchround.Case{Name: "through-C/cgo.Handle", Run: func(b *testing.B) {
		loopCPU(b, func() {
			h := cgo.NewHandle(v)
			notify.CallCgoHandle(h)
			h.Delete()
		})
	}})
	cases = append(cases, benchround.Case{Name: "Go-only/handle.New", Run: func(b *testing.B) {
		loopCPU(b, func() {
			h, _ := handle.New("bench", v)
			if _, err := handle.Value(h.Pointer()); err != nil {
				b.Fatal(err)
			}
			h.Release()
		})
	}})
	cases = append(cases, benchround.Case{Name: "Go-only/cgo.Handle", Run: func(b *testing.B) {
		loopCPU(b, func() {
			h := cgo.NewHandle(v)
			if h.Value() == nil {
				b.Fatal("nil")
			}
			h.Delete()
		})
	}})
	benchround.Run(b, cases)
}

// loopCPU runs body b.N times on one locked OS thread and reports that
// thread's CPU time per run as cpu-ns/op where it can be measured.
func loopCPU(b *testing.B, body func()) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	start, ok := threadCPU()
	for b.Loop() {
		body()
	}
	if end, ok2 := threadCPU(); ok && ok2 {
		b.ReportMetric(float64(end-start)/float64(b.N), "cpu-ns/op")
	}
}
