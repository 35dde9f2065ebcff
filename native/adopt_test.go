package native

import (
	"errors"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/membridge/membridge/cext/leakcheck"
	"github.com/membridge/membridge/internal/testkit"
	"github.com/membridge/membridge/tracker"
	"github.com/membridge/membridge/tracker/leaktest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAdoptFreesWithTheLibrarysDeleter(t *testing.T) {
	defer leakcheck.Check(t)
	// Memory "a C library" allocated: mb_alloc stands in for it.
	p := cAlloc(100, 0, fillZero)
	var deleted atomic.Pointer[byte]
	b, err := Adopt(t.Name(), p, 100, DeleterFunc("lib_free", func(q unsafe.Pointer) {
		deleted.Store((*byte)(q))
		cFree(uintptr(q), 100, false)
	}))
	require.NoError(t, err)
	if b.Snapshot().Kind != KindAdopted || b.Len() != 100 {
		t.Fatalf("adopted buffer: kind %v, len %d", b.Snapshot().Kind, b.Len())
	}
	require.NoError(t, b.Free())
	if deleted.Load() != (*byte)(p) {
		t.Fatal("the deleter was not called with the adopted pointer")
	}
	//membridge:ignore doublefree the test checks that a second Free returns ErrFreed
	require.ErrorIs(t, b.Free(), ErrFreed, "second free")
}

func TestAdoptWithCDeleter(t *testing.T) {
	defer leakcheck.Check(t)
	p := cAlloc(64, 0, fillNone)
	b, err := Adopt(t.Name(), p, 64, FreeDeleter())
	require.NoError(t, err)
	b.Free() // ASan (make asan) would report a leak or a bad free here
}

func TestAdoptRejectsBadInput(t *testing.T) {
	defer leakcheck.Check(t)
	p := cAlloc(8, 0, fillNone)
	defer cFree(uintptr(p), 8, false)
	for name, f := range map[string]func() error{
		"nil pointer":   func() error { _, err := Adopt("x", nil, 8, FreeDeleter()); return err },          //membridge:ignore leak false positive: Adopt of a nil pointer fails with ErrInvalidArgument (checked by the caller of the closure, which the analyzer does not follow)
		"no deleter":    func() error { _, err := Adopt("x", p, 8, Deleter{}); return err },                //membridge:ignore leak false positive: Adopt without a deleter fails with ErrInvalidArgument (checked by the caller of the closure, which the analyzer does not follow)
		"nil C deleter": func() error { _, err := Adopt("x", p, 8, CDeleter("none", nil)); return err },    //membridge:ignore leak false positive: Adopt with a nil C deleter fails with ErrInvalidArgument (checked by the caller of the closure, which the analyzer does not follow)
		"nil Go func":   func() error { _, err := Adopt("x", p, 8, DeleterFunc("none", nil)); return err }, //membridge:ignore leak false positive: Adopt with a nil Go deleter fails with ErrInvalidArgument (checked by the caller of the closure, which the analyzer does not follow)
	} {
		assert.ErrorIs(t, f(), ErrInvalidArgument, "%s", name)
	}
	if _, err := Adopt("x", p, -1, FreeDeleter()); !errors.Is(err, ErrInvalidSize) {
		t.Errorf("negative size: %v", err)
	}
}

func TestDroppedAdoptedBufferGoesBackToItsDeleter(t *testing.T) {
	var calls atomic.Int32
	func() {
		p := cAlloc(32, 0, fillNone)
		//membridge:ignore leak the test drops the adopted buffer on purpose and checks that the safety net gives it back to its deleter
		Adopt("adopted-dropped", p, 32, DeleterFunc("counting_free", func(q unsafe.Pointer) {
			calls.Add(1)
			cFree(uintptr(q), 32, false)
		}))
	}()
	testkit.Eventually(t, func(c *assert.CollectT) {
		tracker.GC()
		assert.NotZero(c, calls.Load(), "deleter calls")
	})
	require.EqualValues(t, 1, calls.Load(), "deleter calls")
	rt := &leaktest.Recorder{}
	leaktest.VerifyNone(rt, leaktest.MaxWait(10*time.Millisecond))
	require.Contains(t, rt.Report(), "kind adopted", "dropped adopted buffer not reported")
}
