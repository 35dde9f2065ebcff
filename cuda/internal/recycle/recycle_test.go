package recycle_test

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/membridge/membridge/cuda"
	"github.com/membridge/membridge/internal/recordof"
	"github.com/membridge/membridge/internal/recycletest"
	"github.com/membridge/membridge/internal/testkit"
	"github.com/membridge/membridge/tracker"
	"github.com/membridge/membridge/tracker/leaktest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// afterTests run after all tests, before the ledger's final check (the
// stand-in driver's own check appends to it under the cuda tag).
var afterTests []func() error

type runner struct{ m *testing.M }

func (r runner) Run() int {
	code := r.m.Run()
	for _, f := range afterTests {
		if err := f(); err != nil {
			fmt.Fprintln(os.Stderr, "recycle:", err)
			code = 1
		}
	}
	return code
}

// The test mode's leak check at the end, with records as production makes
// them. The tests do not run in parallel (VerifyNone blames all).
func TestMain(m *testing.M) {
	leaktest.VerifyTestMain(runner{m}, leaktest.WithoutAttribution())
}

func open(t *testing.T) *cuda.Context {
	t.Helper()
	c, err := cuda.Open(0)
	require.NoError(t, err)
	t.Cleanup(func() {
		if err := c.Close(); err != nil && !errors.Is(err, cuda.ErrClosed) {
			t.Error(err)
		}
	})
	return c
}

// buffers is a context's side of recycletest.ReusedPair.
func buffers(c *cuda.Context) recycletest.Owner[*cuda.DeviceBuffer] {
	return recycletest.Owner[*cuda.DeviceBuffer]{
		Alloc:  c.Alloc,
		Free:   (*cuda.DeviceBuffer).Free,
		Record: recordof.Of[*cuda.DeviceBuffer],
	}
}

// A device handle whose record went to another allocation still answers
// for its own allocation: its tag, ErrFreed on a second Free and on use,
// and it cannot end or disturb the new owner's record.
func TestStaleDeviceHandleOfARecycledRecord(t *testing.T) {
	recycletest.Production(t, 0)
	c := open(t)
	tagA, tagB := testkit.UniqueTag(t, "a"), testkit.UniqueTag(t, "b")
	a, b := recycletest.ReusedPair(t, buffers(c), tagA, tagB)
	if a.Tag() != tagA || b.Tag() != tagB || a.Len() != 64 {
		t.Fatalf("tags %q and %q, len %d; want %q, %q and 64", a.Tag(), b.Tag(), a.Len(), tagA, tagB)
	}
	for name, err := range map[string]error{"Free": a.Free(), "Err": a.Err(), "CopyHtoD": cuda.CopyHtoD(a, make([]byte, 64))} {
		if !errors.Is(err, cuda.ErrFreed) || !strings.Contains(err.Error(), tagA) || strings.Contains(err.Error(), tagB) {
			t.Errorf("%s of the stale handle: %v", name, err)
		}
	}
	if !b.Snapshot().Live || b.Err() != nil {
		t.Fatal("the new owner's record was disturbed by the stale handle")
	}
	in := []byte("still the new owner's memory....")
	require.NoError(t, cuda.CopyHtoD(b, in))
	out := make([]byte, len(in))
	if err := cuda.CopyDtoH(out, b); err != nil || string(out) != string(in) {
		t.Fatalf("round trip through the new owner's buffer: %q, %v", out, err)
	}
	require.NoError(t, b.Free())
	if s := tracker.TagStats(tagB); s.LiveCount != 0 || s.FreedCount != s.AllocatedCount {
		t.Fatalf("new owner's tag after its Free: %+v", s)
	}
}

// Close tells a buffer it freed (ErrClosed) from one its handle freed
// before (ErrFreed), though the freed one's record was reused by the other.
func TestCloseAfterRecordReuse(t *testing.T) {
	recycletest.Production(t, 0)
	c := open(t)
	a, b := recycletest.ReusedPair(t, buffers(c), testkit.UniqueTag(t, "a"), testkit.UniqueTag(t, "b"))
	p, err := c.AllocPinned(testkit.UniqueTag(t, "pinned"), 16)
	require.NoError(t, err)
	require.NoError(t, c.Close())
	assert.ErrorIs(t, a.Err(), cuda.ErrFreed, "buffer freed before Close")
	for name, err := range map[string]error{"Err": b.Err(), "Free": b.Free(), "pinned Err": p.Err(), "pinned Free": p.Free()} {
		assert.ErrorIs(t, err, cuda.ErrClosed, "%s of a buffer Close freed", name)
	}
}

// A pinned buffer's record is reused like a device buffer's, and its
// stale handle answers for itself.
func TestStalePinnedHandle(t *testing.T) {
	recycletest.Production(t, 0)
	c := open(t)
	tagA := testkit.UniqueTag(t, "a")
	for range 1000 {
		a, err := c.AllocPinned(tagA, 64)
		require.NoError(t, err)
		ra := recordof.Of(a)
		require.NoError(t, a.Free())
		b, err := c.AllocPinned(testkit.UniqueTag(t, "b"), 32)
		require.NoError(t, err)
		reused := recordof.Of(b) == ra
		copy(b.Bytes(), "mine")
		//membridge:ignore doublefree the test checks that a Free through a stale handle returns ErrFreed naming its own tag, not the new owner's
		if err := a.Free(); !errors.Is(err, cuda.ErrFreed) || !strings.Contains(err.Error(), tagA) {
			t.Fatalf("second Free of a pinned handle: %v", err)
		}
		if !b.Snapshot().Live || string(b.Bytes()[:4]) != "mine" {
			t.Fatal("the new owner's pinned buffer was disturbed")
		}
		require.NoError(t, b.Free())
		if reused {
			return
		}
	}
	t.Fatal("a freed pinned buffer's record was never reused")
}

// A record kept by a sampled stack is never reused: the use-after-free
// message keeps naming where the buffer was allocated.
func TestSampledDeviceRecordIsNotRecycled(t *testing.T) {
	recycletest.Production(t, 1)
	c := open(t)
	a, err := c.Alloc(testkit.UniqueTag(t, "a"), 64)
	require.NoError(t, err)
	ra := recordof.Of(a)
	require.NoError(t, a.Free())
	recycletest.Production(t, 0)
	for range 100 {
		b, err := c.Alloc(testkit.UniqueTag(t, "b"), 64)
		require.NoError(t, err)
		if recordof.Of(b) == ra {
			t.Fatal("a record with a stack was reused")
		}
		require.NoError(t, b.Free())
	}
	if err := a.Err(); !strings.Contains(err.Error(), "allocated at") || !strings.Contains(err.Error(), "TestSampledDeviceRecordIsNotRecycled") {
		t.Fatalf("use-after-free message without the allocation site: %v", err)
	}
}

// Allocations on two streams, copies, frees, drops, snapshots and
// collections at once, with records reused throughout (run with -race):
// every buffer ends freed or reclaimed once and the ledger adds up.
func TestDeviceRecyclingUnderChurn(t *testing.T) {
	recycletest.Production(t, 0)
	dropsHeard := recycletest.HearDrops(t)
	var dropped atomic.Int64
	c := open(t)
	tg := testkit.UniqueTag(t, "churn")
	stop := recycletest.Beside()
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := c.NewStream()
			if err != nil {
				t.Error(err)
				return
			}
			defer s.Close()
			buf := make([]byte, 80)
			for i := range 1500 {
				var b *cuda.DeviceBuffer
				if i%2 == 0 {
					b, err = c.Alloc(tg, 16+i%64)
				} else {
					b, err = s.Alloc(tg, 16+i%64)
				}
				if err != nil {
					t.Error(err)
					return
				}
				if err := cuda.CopyHtoD(b, buf[:b.Len()]); err != nil {
					t.Error(err)
					return
				}
				if (i+g)%211 == 0 {
					dropped.Add(1)
					continue // the safety net frees it
				}
				if err := b.Free(); err != nil {
					t.Error(err)
					return
				}
				//membridge:ignore doublefree the test checks that a second Free returns ErrFreed
				if err := b.Free(); !errors.Is(err, cuda.ErrFreed) {
					t.Errorf("second Free: %v", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	stop()
	recycletest.WaitDrops(dropsHeard, dropped.Load())
	if err := c.Synchronize(); err != nil { // frees what the safety net queued
		t.Fatal(err)
	}
	s := tracker.TagStats(tg)
	if dropsHeard.Load() != dropped.Load() || s.DroppedCount != dropped.Load() || s.LiveCount != 0 || s.AllocatedCount != 6000 || s.FreedCount != 6000 {
		t.Fatalf("heard %d drops of %d; stats %+v", dropsHeard.Load(), dropped.Load(), s)
	}
}
