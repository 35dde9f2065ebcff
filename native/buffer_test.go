package native

import (
	"unsafe"

	"errors"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/membridge/membridge/cext/leakcheck"
	"github.com/membridge/membridge/internal/testkit"
	"github.com/membridge/membridge/tracker"
	"github.com/membridge/membridge/tracker/leaktest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAllocAndFree(t *testing.T) {
	defer leakcheck.Check(t)
	tag := testkit.UniqueTag(t)
	for _, n := range []int{1, 64, 4096, 1 << 20} {
		b, err := Alloc(tag, n)
		require.NoError(t, err, "Alloc(%d)", n)
		if b.Len() != n || len(b.Bytes()) != n || b.Ptr() == nil || b.Tag() != tag {
			t.Fatalf("Alloc(%d): len %d, bytes %d, ptr %v", n, b.Len(), len(b.Bytes()), b.Ptr())
		}
		// fresh memory is junk-filled in the debug mode the tests run in;
		// large buffers come as fresh pages, zero, and are unmapped at Free
		if want := byte(0xCD); tracker.Checking() && n < largeMin && b.Bytes()[n-1] != want {
			t.Fatalf("fresh memory not filled with 0xCD in the debug mode: %#x", b.Bytes()[n-1])
		}
		b.Bytes()[0], b.Bytes()[n-1] = 1, 2
		require.NoError(t, b.Free())
	}
	if s := tracker.TagStats(tag); s.LiveBytes != 0 || s.AllocatedCount != 4 || s.FreedCount != 4 {
		t.Fatalf("ledger after four alloc/free pairs: %+v", s)
	}
}

func TestAllocZeroed(t *testing.T) {
	defer leakcheck.Check(t)
	for _, opts := range [][]AllocOption{nil, {Align(4096)}} {
		b, err := AllocZeroed(t.Name(), 10000, opts...)
		require.NoError(t, err)
		for i, c := range b.Bytes() {
			require.EqualValues(t, 0, c, "byte %d is %#x", i, c)
		}
		b.Free()
	}
}

func TestAlign(t *testing.T) {
	defer leakcheck.Check(t)
	for _, a := range []int{1, 8, 16, 64, 4096, 1 << 16} {
		b, err := Alloc(t.Name(), 100, Align(a))
		require.NoError(t, err, "Align(%d)", a)
		assert.EqualValues(t, 0, uintptr(b.Ptr())%uintptr(a), "Align(%d): pointer %p", a, b.Ptr())
		b.Free()
	}
	for _, a := range []int{3, 100, -8} {
		if _, err := Alloc(t.Name(), 100, Align(a)); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("Align(%d): got %v, want ErrInvalidArgument", a, err)
		}
	}
}

func TestBadSizes(t *testing.T) {
	defer leakcheck.Check(t)
	tag := testkit.UniqueTag(t)
	if _, err := Alloc(tag, -1); !errors.Is(err, ErrInvalidSize) {
		t.Fatalf("negative size: %v", err)
	}
	// More than any machine has: malloc fails, nothing stays in the ledger.
	_, err := Alloc(tag, math.MaxInt/2)
	if !errors.Is(err, ErrOutOfMemory) || !strings.Contains(err.Error(), "alloc 4611686018427387903 bytes") {
		t.Fatalf("huge size: %v", err)
	}
	if s := tracker.TagStats(tag); s.LiveBytes != 0 || s.AllocatedCount != 0 {
		t.Fatalf("failed allocations were recorded: %+v", s)
	}
}

func TestZeroSize(t *testing.T) {
	defer leakcheck.Check(t)
	tag := testkit.UniqueTag(t)
	b, err := Alloc(tag, 0)
	require.NoError(t, err)
	if b.Ptr() != nil || len(b.Bytes()) != 0 || b.Len() != 0 {
		t.Fatalf("zero-size buffer: ptr %v, %d bytes", b.Ptr(), len(b.Bytes()))
	}
	if s := tracker.TagStats(tag); s.LiveCount != 1 {
		t.Fatalf("a zero-size handle is not counted: %+v", s)
	}
	require.NoError(t, b.Free())
	//membridge:ignore doublefree the test checks that a second Free returns ErrFreed
	require.ErrorIs(t, b.Free(), ErrFreed, "second free of a zero-size buffer")
}

func TestLimitRefusesBeforeMalloc(t *testing.T) {
	defer leakcheck.Check(t)
	tag := testkit.UniqueTag(t)
	tracker.SetTagLimit(tag, 1<<10)
	defer tracker.SetTagLimit(tag, 0)
	_, err := Alloc(tag, 1<<11)
	require.ErrorIs(t, err, ErrLimit)
	if s := tracker.TagStats(tag); s.LiveBytes != 0 || s.LimitHits != 1 {
		t.Fatalf("ledger: %+v", s)
	}
}

func TestDoubleFreeAndUseAfterFree(t *testing.T) {
	defer leakcheck.Check(t)
	b, _ := Alloc("decoder", 64)
	require.NoError(t, b.Free())
	//membridge:ignore doublefree the test checks that a second Free returns ErrFreed
	err := b.Free()
	require.ErrorIs(t, err, ErrFreed, "second Free")
	require.True(t, errors.Is(b.Err(), ErrFreed), "Err after Free: %v", b.Err())
	msg := panicMessage(func() { _ = b.Bytes() })
	for _, want := range []string{"Bytes of freed buffer", `tag "decoder"`, "allocated at github.com/membridge/membridge/native.TestDoubleFreeAndUseAfterFree", "buffer_test.go:", "freed at github.com/membridge/membridge/native.TestDoubleFreeAndUseAfterFree"} {
		assert.Contains(t, msg, want, "use-after-free panic lacks")
	}
	if msg := panicMessage(func() { _ = b.Ptr() }); !strings.Contains(msg, "Ptr of freed buffer") {
		t.Errorf("Ptr after free: %q", msg)
	}
	var nilBuf *Buffer
	require.NoError(t, nilBuf.Free(), "Free of a nil *Buffer")
}

func panicMessage(f func()) (msg string) {
	defer func() {
		if r := recover(); r != nil {
			if e, ok := r.(error); ok {
				msg = e.Error()
			} else {
				msg = "non-error panic"
			}
		}
	}()
	f()
	return ""
}

func TestConcurrentFreeFreesOnce(t *testing.T) {
	defer leakcheck.Check(t)
	for range 500 {
		b, _ := Alloc(t.Name(), 32)
		var ok, freed atomic.Int32
		var wg sync.WaitGroup
		for range 3 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				switch err := b.Free(); {
				case err == nil:
					ok.Add(1)
				case errors.Is(err, ErrFreed):
					freed.Add(1)
				}
			}()
		}
		wg.Wait()
		if ok.Load() != 1 || freed.Load() != 2 {
			t.Fatalf("%d frees succeeded, %d got ErrFreed", ok.Load(), freed.Load())
		}
	}
}

func TestMove(t *testing.T) {
	defer leakcheck.Check(t)
	tag := testkit.UniqueTag(t)
	a, _ := Alloc(tag, 16)
	copy(a.Bytes(), "payload")
	id := a.Snapshot().ID
	b, err := a.Move()
	require.NoError(t, err)
	if string(b.Bytes()[:7]) != "payload" || b.Snapshot().ID != id {
		t.Fatal("moved buffer lost its contents or its record")
	}
	//membridge:ignore doublefree the test checks that Free of a moved buffer returns ErrMoved
	require.ErrorIs(t, a.Free(), ErrMoved, "Free of the old handle")
	if _, err := a.Move(); !errors.Is(err, ErrMoved) {
		t.Fatalf("second Move: %v", err)
	}
	if msg := panicMessage(func() { a.Bytes() }); !strings.Contains(msg, "moved buffer") {
		t.Fatalf("Bytes of the old handle: %q", msg)
	}
	if s := tracker.TagStats(tag); s.LiveCount != 1 || s.AllocatedCount != 1 {
		t.Fatalf("a move changed the books: %+v", s)
	}
	require.NoError(t, b.Free())
}

func TestMovedBufferIsWatchedUnderItsNewHandle(t *testing.T) {
	defer tracker.SetLeakPolicy(tracker.SetLeakPolicy(tracker.LeakFree))
	tracker.SetLeakHandler(func(*tracker.Record) {}) // the probe's drop is planted: no warning
	defer tracker.SetLeakHandler(nil)
	probeTag := testkit.UniqueTag(t, "probe")
	a, _ := Alloc(t.Name(), 16)
	// The probe is dropped with a: once the safety net has reclaimed it,
	// it has had the collection in which it would have found a's drop.
	func() {
		//membridge:ignore leak the test drops the probe on purpose and waits for the safety net to reclaim it
		_, _ = Alloc(probeTag, 16)
	}()
	b, _ := a.Move()
	// a is unreachable now; Move moved the net to the new handle, so its
	// drop does not count.
	testkit.Eventually(t, func(c *assert.CollectT) {
		tracker.GC()
		assert.EqualValues(c, 1, tracker.TagStats(probeTag).DroppedCount, "the probe's drops found")
	})
	require.True(t, b.Snapshot().Live, "dropping the old handle after a move reclaimed the memory")
	b.Free()
	leaktest.VerifyNone(t)
}

func TestHandToC(t *testing.T) {
	defer leakcheck.Check(t)
	tag := testkit.UniqueTag(t)
	b, _ := Alloc(tag, 128)
	p, err := b.HandToC()
	if err != nil || p == nil {
		t.Fatalf("HandToC: %v, %v", p, err)
	}
	if _, err := b.HandToC(); !errors.Is(err, ErrMoved) {
		t.Fatalf("second HandToC: %v", err)
	}
	//membridge:ignore doublefree the test checks that Free of a buffer handed to C returns ErrMoved
	if err := b.Free(); !errors.Is(err, ErrMoved) || !strings.Contains(err.Error(), "handed to C") {
		t.Fatalf("Free after HandToC: %v", err)
	}
	s := tracker.TagStats(tag)
	if s.LiveBytes != 0 || s.HandedOffBytes != 128 {
		t.Fatalf("hand-off books: %+v", s)
	}
	cFree(uintptr(p), 128, false) // C's side of the bargain
}

func TestDroppedBufferIsReportedAndReclaimed(t *testing.T) {
	tag := testkit.UniqueTag(t)
	func() {
		//membridge:ignore leak the test drops the buffer on purpose and checks that the safety net reports and reclaims it
		b, _ := Alloc(tag, 256)
		_ = b
	}()
	rt := &leaktest.Recorder{}
	testkit.Eventually(t, func(c *assert.CollectT) {
		tracker.GC()
		assert.NotZero(c, tracker.TagStats(tag).DroppedCount, "drops found")
	})
	leaktest.VerifyNone(rt, leaktest.MaxWait(10*time.Millisecond))
	rep := rt.Report()
	for _, want := range []string{`256 bytes in 1 allocation, tag "` + tag + `"`, "1 dropped without Free", "TestDroppedBufferIsReportedAndReclaimed"} {
		assert.Contains(t, rep, want, "report lacks")
	}
	if s := tracker.TagStats(tag); s.LiveBytes != 0 || s.FreedBytes != 256 {
		t.Fatalf("dropped buffer not reclaimed: %+v", s)
	}
}

func FuzzAllocCopyFree(f *testing.F) {
	f.Add(16, 0, []byte("hello"))
	f.Add(0, 64, []byte{})
	f.Add(4096, 4096, []byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, n, align int, data []byte) {
		n %= 1 << 20
		b, err := Alloc("fuzz", n, Align(align))
		switch {
		case n < 0:
			if !errors.Is(err, ErrInvalidSize) && !errors.Is(err, ErrInvalidArgument) {
				t.Fatalf("Alloc(%d): %v", n, err)
			}
			return
		case align < 0 || align&(align-1) != 0:
			require.ErrorIs(t, err, ErrInvalidArgument, "Align(%d)", align)
			return
		case align > 1<<20:
			if err != nil {
				return // posix_memalign may refuse huge alignments
			}
		case err != nil:
			t.Fatalf("Alloc(%d, Align(%d)): %v", n, align, err)
		}
		if align > 0 && uintptr(b.Ptr())%uintptr(align) != 0 {
			t.Fatalf("misaligned: %p for %d", b.Ptr(), align)
		}
		k := copy(b.Bytes(), data)
		if string(b.Bytes()[:k]) != string(data[:k]) {
			t.Fatal("copy mismatch")
		}
		require.NoError(t, b.Free())
	})
}

// One handle is made per allocation: its size class is part of the cost of
// an Alloc+Free pair (bench/alloc), so a field added carelessly shows here.
func TestBufferHandleFitsItsSizeClass(t *testing.T) {
	if n := unsafe.Sizeof(Buffer{}); n > 64 {
		t.Fatalf("Buffer is %d bytes; it must stay within the 64-byte size class", n)
	}
}
