package cuda

import (
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/membridge/membridge/internal/testkit"
	"github.com/membridge/membridge/tracker"
	"github.com/membridge/membridge/tracker/leaktest"
	"github.com/membridge/membridge/tracker/stacks"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDevices(t *testing.T) {
	devs, err := Devices()
	require.NoError(t, err)
	if len(devs) == 0 {
		t.Fatal("no devices")
	}
	for i, d := range devs {
		t.Logf("%v, memory pools %v", d, d.MemoryPools)
		if d.Ordinal != i || d.Name == "" || d.TotalMemory <= 0 || d.Major < 1 {
			t.Errorf("device %d: %+v", i, d)
		}
	}
	if _, err := GetDevice(len(devs)); !errors.Is(err, ErrNoDevice) {
		t.Errorf("GetDevice(%d) = %v, want ErrNoDevice", len(devs), err)
	}
	if _, err := GetDevice(-1); !errors.Is(err, ErrNoDevice) {
		t.Errorf("GetDevice(-1) = %v, want ErrNoDevice", err)
	}
	free, total, err := shared.MemInfo()
	if err != nil || free < 0 || free > total || total <= 0 {
		t.Errorf("MemInfo() = %d, %d, %v", free, total, err)
	}
}

// liveBytes is what the ledger counts live for a kind on device 0.
func liveBytes(k tracker.Kind, tag string) int64 {
	var n int64
	tracker.LiveRecords(func(r *tracker.Record) bool {
		if r.Kind() == k && r.Tag() == tag && r.Device() == 0 {
			n += r.Bytes()
		}
		return true
	})
	return n
}

func TestAllocFreeLedger(t *testing.T) {
	defer leaktest.VerifyNone(t)
	for _, zeroed := range []bool{false, true} {
		alloc := shared.Alloc
		if zeroed {
			alloc = shared.AllocZeroed
		}
		b, err := alloc("test/ledger", 1000)
		require.NoError(t, err)
		assert.EqualValues(t, 1000, liveBytes(kindDevice, "test/ledger"), "ledger")
		if r := b.Snapshot(); r.Kind != kindDevice || r.Device != 0 || r.Bytes != 1000 {
			t.Errorf("snapshot: kind %v device %d bytes %d", r.Kind, r.Device, r.Bytes)
		}
		if b.Len() != 1000 || b.Pooled() || b.Context() != shared {
			t.Errorf("buffer: len %d pooled %v", b.Len(), b.Pooled())
		}
		if p, err := b.DevicePtr(); err != nil || p == 0 {
			t.Errorf("DevicePtr() = %#x, %v", p, err)
		}
		require.NoError(t, b.Free())
		assert.EqualValues(t, 0, liveBytes(kindDevice, "test/ledger"), "ledger after Free")
		assert.ErrorIs(t, b.Free(), ErrFreed, "second Free")
		assert.ErrorIs(t, CopyHtoD(b, make([]byte, 1000)), ErrFreed, "copy into freed buffer")
		if _, err := b.DevicePtr(); !errors.Is(err, ErrFreed) {
			t.Errorf("DevicePtr of freed buffer = %v, want ErrFreed", err)
		}
	}
	if _, err := shared.Alloc("test/ledger", -1); !errors.Is(err, ErrInvalidSize) {
		t.Errorf("Alloc(-1) = %v, want ErrInvalidSize", err)
	}
	z, err := shared.Alloc("test/ledger", 0)
	require.NoError(t, err)
	assert.NoError(t, CopyHtoD(z, []byte{}), "empty copy")
	require.NoError(t, z.Free())
	var nilBuf *DeviceBuffer
	assert.NoError(t, nilBuf.Free(), "nil Free")
}

func TestAllocZeroedIsZero(t *testing.T) {
	defer leaktest.VerifyNone(t)
	// Dirty some memory first, so zeroing is not an accident of a fresh heap.
	d, err := CloneHtoD(shared, "test/dirty", slices.Repeat([]byte{0xAB}, 1<<16))
	require.NoError(t, err)
	d.Free()
	s, err := AllocSliceZeroed[uint32](shared, "test/zero", 1<<14)
	require.NoError(t, err)
	defer s.Free()
	got, err := CloneDtoH(s)
	require.NoError(t, err)
	for i, v := range got {
		require.EqualValues(t, 0, v, "value %d = %#x, want 0", i, v)
	}
}

type point struct {
	X, Y float32
	ID   uint64
}

func TestCopies(t *testing.T) {
	defer leaktest.VerifyNone(t)
	s, err := shared.NewStream()
	require.NoError(t, err)
	defer s.Close()
	src := []point{{1, 2, 3}, {4, 5, 6}, {7, 8, 9}, {10, 11, 12}}
	for _, stream := range []*Stream{nil, shared.DefaultStream(), s} {
		var d *DeviceSlice[point]
		if stream == nil {
			d, err = CloneHtoD(shared, "test/copy", src)
		} else {
			d, err = CloneHtoDOn(stream, "test/copy", src)
		}
		require.NoError(t, err)
		d2, err := CloneDtoD("test/copy", d)
		require.NoError(t, err)
		// Overwrite the middle of d2 through a view, from the ends of d.
		mid, _ := d2.View(1, 3)
		ends, _ := d.View(2, 4)
		if stream == nil {
			err = CopyDtoD(mid, ends)
		} else {
			err = CopyDtoDOn(stream, mid, ends)
		}
		require.NoError(t, err)
		got := make([]point, 4)
		if stream == nil {
			err = CopyDtoH(got, d2)
		} else {
			err = CopyDtoHOn(stream, got, d2)
			if err == nil {
				err = stream.Synchronize()
			}
		}
		require.NoError(t, err)
		want := []point{src[0], src[2], src[3], src[3]}
		assert.True(t, slices.Equal(got, want), "stream %v: got %v, want %v", stream, got, want)
		require.NoError(t, errors.Join(d.Free(), d2.Free()))
	}
}

func TestCopyErrors(t *testing.T) {
	defer leaktest.VerifyNone(t)
	b, err := shared.Alloc("test/errors", 64)
	require.NoError(t, err)
	defer b.Free()
	c, err := shared.Alloc("test/errors", 32)
	require.NoError(t, err)
	defer c.Free()
	cases := []struct {
		name string
		err  error
		want error
	}{
		{"HtoD too small", CopyHtoD(b, make([]byte, 63)), ErrSizeMismatch},
		{"HtoD too large", CopyHtoD(b, make([]uint64, 9)), ErrSizeMismatch},
		{"DtoH too small", CopyDtoH(make([]byte, 10), b), ErrSizeMismatch},
		{"DtoD mismatch", CopyDtoD(b, c), ErrSizeMismatch},
		//membridge:ignore gopointer the test checks that CopyHtoD refuses Go pointers with ErrPointerType
		{"HtoD of pointers", CopyHtoD(b, make([]*int, 8)), ErrPointerType},
		{"nil destination", CopyHtoD(nil, []byte{1}), ErrInvalidArgument},
		{"nil stream", CopyHtoDOn(nil, b, make([]byte, 64)), ErrInvalidArgument},
		{"zero view", CopyHtoD(DeviceView{}, []byte{}), ErrInvalidArgument},
	}
	for _, c := range cases {
		assert.True(t, errors.Is(c.err, c.want), "%s: got %v, want %v", c.name, c.err, c.want)
	}
	for _, r := range [][2]int{{-1, 1}, {0, 65}, {60, 5}, {65, 0}, {0, -1}} {
		if _, err := b.View(r[0], r[1]); !errors.Is(err, ErrSizeMismatch) {
			t.Errorf("View(%d, %d) = %v, want ErrSizeMismatch", r[0], r[1], err)
		}
	}
	//membridge:ignore gopointer the test checks that AllocSlice refuses Go pointers with ErrPointerType
	if _, err := AllocSlice[string](shared, "test/errors", 1); !errors.Is(err, ErrPointerType) {
		t.Errorf("AllocSlice[string] = %v, want ErrPointerType", err)
	}
	if _, err := AllocSlice[uint64](shared, "test/errors", 1<<62); !errors.Is(err, ErrInvalidSize) {
		t.Errorf("AllocSlice of 2^62 uint64 = %v, want ErrInvalidSize", err)
	}
}

func TestViewCannotOutliveOwner(t *testing.T) {
	defer leaktest.VerifyNone(t)
	s, err := CloneHtoD(shared, "test/view", []float32{1, 2, 3, 4})
	require.NoError(t, err)
	v, err := s.View(1, 3)
	require.NoError(t, err)
	got := make([]float32, 2)
	if err := CopyDtoH(got, v); err != nil || !slices.Equal(got, []float32{2, 3}) {
		t.Fatalf("view read %v, %v", got, err)
	}
	s.Free()
	assert.ErrorIs(t, CopyDtoH(got, v), ErrFreed, "view of freed slice")
}

func TestWrongContext(t *testing.T) {
	defer leaktest.VerifyNone(t)
	other, err := Open(0)
	require.NoError(t, err)
	defer other.Close()
	a, err := shared.Alloc("test/wrong", 16)
	require.NoError(t, err)
	defer a.Free()
	b, err := other.Alloc("test/wrong", 16)
	require.NoError(t, err)
	defer b.Free()
	s, err := other.NewStream()
	require.NoError(t, err)
	defer s.Close()
	assert.ErrorIs(t, CopyDtoD(a, b), ErrWrongContext, "DtoD across contexts")
	assert.ErrorIs(t, CopyHtoDOn(s, a, make([]byte, 16)), ErrWrongContext, "copy on another context's stream")
	assert.ErrorIs(t, Scale(s, a, a, 2), ErrWrongContext, "kernel on another context's stream")
}

func TestClosedContext(t *testing.T) {
	defer leaktest.VerifyNone(t)
	c, err := Open(0)
	require.NoError(t, err)
	b, err := c.Alloc("test/closed", 128)
	require.NoError(t, err)
	s, err := c.NewStream()
	require.NoError(t, err)
	p, err := s.Alloc("test/closed", 64)
	require.NoError(t, err)
	pin, err := c.AllocPinned("test/closed", 64)
	require.NoError(t, err)
	if err := Scale(s, p, p, 1); err != nil { // loads the built-in module
		t.Fatal(err)
	}
	require.NoError(t, c.Close())
	assert.EqualValues(t, 0, liveBytes(kindDevice, "test/closed")+liveBytes(kindPool, "test/closed")+liveBytes(kindPinned, "test/closed"), "ledger after Close")
	checks := []struct {
		name string
		err  error
	}{
		{"Err", b.Err()},
		{"copy", CopyHtoD(b, make([]byte, 128))},
		//membridge:ignore leak false positive: an alloc on a closed context fails with ErrClosed (checked in the table's loop, which the analyzer does not follow)
		{"alloc", func() error { _, err := c.Alloc("test/closed", 1); return err }()},
		//membridge:ignore leak false positive: an alloc on a closed context fails with ErrClosed (checked in the table's loop, which the analyzer does not follow)
		{"stream alloc", func() error { _, err := s.Alloc("test/closed", 1); return err }()},
		{"new stream", func() error { _, err := c.NewStream(); return err }()},
		//membridge:ignore useafterfree the test checks that Synchronize on a closed context returns ErrClosed
		{"synchronize", c.Synchronize()},
		{"pinned Err", pin.Err()},
		{"Free", b.Free()},
		{"stream Free", p.Free()},
		{"pinned Free", pin.Free()},
		//membridge:ignore doublefree the test checks that a second Close returns ErrClosed
		{"second Close", c.Close()},
	}
	for _, k := range checks {
		assert.True(t, errors.Is(k.err, ErrClosed), "%s after Close: %v, want ErrClosed", k.name, k.err)
	}
}

func TestOutOfMemory(t *testing.T) {
	defer leaktest.VerifyNone(t)
	before := tracker.Pressure()
	_, err := shared.Alloc("test/oom", 1<<50) // a petabyte: no device has it
	require.ErrorIs(t, err, ErrOutOfMemory, "Alloc(1 PiB)")
	after := tracker.Pressure()
	if after.Reliefs <= before.Reliefs || after.Retries != before.Retries+1 || after.RetrySuccesses != before.RetrySuccesses {
		t.Errorf("pressure counters before %+v after %+v: want one relief and one failed retry", before, after)
	}
	assert.EqualValues(t, 0, liveBytes(kindDevice, "test/oom"), "ledger after a failed alloc")
	s, err := shared.NewStream()
	require.NoError(t, err)
	defer s.Close()
	if _, err := s.Alloc("test/oom", 1<<50); !errors.Is(err, ErrOutOfMemory) {
		t.Errorf("stream Alloc(1 PiB) = %v, want ErrOutOfMemory", err)
	}
}

func TestLimit(t *testing.T) {
	defer leaktest.VerifyNone(t)
	tracker.SetTagLimit("test/limit", 100)
	defer tracker.SetTagLimit("test/limit", 0)
	if _, err := shared.Alloc("test/limit", 101); !errors.Is(err, ErrLimit) {
		t.Errorf("Alloc over the tag limit = %v, want ErrLimit", err)
	}
}

// TestSafetyNet drops a buffer: the safety net queues it to the context,
// which frees it on its next call.
func TestSafetyNet(t *testing.T) {
	defer leaktest.VerifyNone(t)
	prev := tracker.SetLeakPolicy(tracker.LeakFree)
	defer tracker.SetLeakPolicy(prev)
	tracker.SetLeakHandler(func(*tracker.Record) {})
	defer tracker.SetLeakHandler(nil)
	s, err := shared.NewStream()
	require.NoError(t, err)
	defer s.Close()
	var recs [3]*tracker.Record
	func() {
		//membridge:ignore leak the test drops the buffer on purpose and checks that the safety net finds it
		b, _ := shared.Alloc("test/dropped", 4096)
		//membridge:ignore leak the test drops the buffer on purpose and checks that the safety net finds it
		p, _ := s.Alloc("test/dropped", 4096)
		//membridge:ignore leak the test drops the pinned buffer on purpose and checks that the safety net finds it
		h, _ := shared.AllocPinned("test/dropped", 4096)
		recs = [3]*tracker.Record{b.a.rec, p.a.rec, h.a.rec}
	}()
	rec1, rec2, rec3 := recs[0], recs[1], recs[2]
	testkit.Eventually(t, func(c *assert.CollectT) {
		tracker.GC()
		assert.True(c, rec1.Dropped() && rec2.Dropped() && rec3.Dropped(), "the safety net found the dropped buffers")
	})
	// The cleanup marks a record dropped just before its Reclaim queues the
	// allocation: poll until the context has freed all three.
	linked := func() int {
		n := 0
		shared.live.Lock()
		for a := shared.live.head; a != nil; a = a.next {
			if a.rec == rec1 || a.rec == rec2 || a.rec == rec3 {
				n++
			}
		}
		shared.live.Unlock()
		return n
	}
	testkit.Eventually(t, func(c *assert.CollectT) {
		require.NoError(c, shared.Synchronize())
		assert.Zero(c, linked(), "dropped allocations not freed by the context")
	})
	if shared.queued.Load() {
		t.Error("queue not drained by Synchronize")
	}
}

func TestPinned(t *testing.T) {
	defer leaktest.VerifyNone(t)
	p, err := shared.AllocPinned("test/pinned", 16)
	require.NoError(t, err)
	assert.EqualValues(t, 16, liveBytes(kindPinned, "test/pinned"), "ledger")
	vals := PinnedValues[float32](p)
	copy(vals, []float32{1, 2, 3, 4})
	s, err := shared.NewStream()
	require.NoError(t, err)
	defer s.Close()
	d, err := CloneHtoDOn(s, "test/pinned", vals)
	require.NoError(t, err)
	defer d.Free()
	require.NoError(t, Scale(s, d, d, 10))
	require.NoError(t, CopyDtoHOn(s, vals, d))
	require.NoError(t, s.Synchronize())
	assert.True(t, slices.Equal(vals, []float32{10, 20, 30, 40}), "got %v", vals)
	require.NoError(t, p.Free())
	//membridge:ignore doublefree the test checks that a second Free returns ErrFreed
	assert.ErrorIs(t, p.Free(), ErrFreed, "second Free")
	func() {
		defer func() {
			if r := recover(); r == nil {
				t.Error("Bytes of a freed pinned buffer did not panic")
			}
		}()
		p.Bytes()
	}()
}

func TestStreamOrderedAndCrossStream(t *testing.T) {
	defer leaktest.VerifyNone(t)
	s1, err := shared.NewStream()
	require.NoError(t, err)
	defer s1.Close()
	s2, err := shared.NewStream()
	require.NoError(t, err)
	defer s2.Close()
	x, err := CloneHtoDOn(s1, "test/streams", []float32{1, 2, 3})
	require.NoError(t, err)
	assert.Equal(t, shared.Device().MemoryPools, x.Buffer().Pooled(), "Pooled() on a device with pools %v", shared.Device().MemoryPools)
	if want := kindPool; !shared.Device().MemoryPools {
		want = kindDevice
		_ = want
	} else if k := x.Buffer().Snapshot().Kind; k != want {
		t.Errorf("kind %v, want %v", k, want)
	}
	// Used on s2: recorded, and the free waits for it.
	require.NoError(t, Scale(s2, x, x, 2))
	l := x.buf.a.useList()
	l.mu.Lock()
	uses := len(l.uses)
	l.mu.Unlock()
	assert.EqualValues(t, 1, uses, "recorded uses")
	e, err := s2.Record()
	require.NoError(t, err)
	defer e.Close()
	require.NoError(t, s1.Wait(e))
	got := make([]float32, 3)
	require.NoError(t, CopyDtoHOn(s1, got, x))
	require.NoError(t, e.Synchronize())
	require.NoError(t, s1.Synchronize())
	if done, err := e.Done(); err != nil || !done {
		t.Errorf("Done() = %v, %v after Synchronize", done, err)
	}
	assert.True(t, slices.Equal(got, []float32{2, 4, 6}), "got %v", got)
	require.NoError(t, x.Free())
	require.NoError(t, shared.Synchronize())
}

func TestClosedStream(t *testing.T) {
	defer leaktest.VerifyNone(t)
	s, err := shared.NewStream()
	require.NoError(t, err)
	b, err := s.Alloc("test/closed-stream", 64)
	require.NoError(t, err)
	require.NoError(t, s.Close())
	assert.ErrorIs(t, s.Close(), ErrClosed, "second Close")
	assert.ErrorIs(t, CopyHtoDOn(s, b, make([]byte, 64)), ErrClosed, "copy on closed stream")
	assert.ErrorIs(t, s.Synchronize(), ErrClosed, "Synchronize closed stream")
	// Memory allocated on the stream outlives it; its free moves to the
	// default stream.
	require.NoError(t, CopyHtoD(b, make([]byte, 64)))
	require.NoError(t, b.Free())
}

// TestConcurrent shares one context among goroutines, each with its own
// stream; -race checks the package's own synchronisation.
func TestConcurrent(t *testing.T) {
	defer leaktest.VerifyNone(t)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := shared.NewStream()
			if err != nil {
				errs <- err
				return
			}
			defer s.Close()
			for i := range 50 {
				x, err := CloneHtoDOn(s, "test/concurrent", []float32{float32(g), float32(i)})
				if err != nil {
					errs <- err
					return
				}
				err = Scale(s, x, x, 2)
				got := make([]float32, 2)
				if err == nil {
					err = CopyDtoHOn(s, got, x)
				}
				if err == nil {
					err = s.Synchronize()
				}
				x.Free()
				if err != nil {
					errs <- err
					return
				}
				if got[0] != float32(2*g) || got[1] != float32(2*i) {
					errs <- errors.New("wrong result")
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestLedgerStacks checks that every allocation path records its stack
// from the caller's code, not from inside the package.
func TestLedgerStacks(t *testing.T) {
	defer leaktest.VerifyNone(t)
	if tracker.StackRate() != 1 {
		t.Skip("stacks are sampled: set MEMBRIDGE_TRACK=all")
	}
	s, err := shared.NewStream()
	require.NoError(t, err)
	defer s.Close()
	type freer interface{ Free() error }
	paths := map[string]func() (*tracker.Record, freer, error){
		"Context.Alloc": func() (*tracker.Record, freer, error) {
			b, err := shared.Alloc("test/stack", 8)
			if err != nil {
				return nil, nil, err
			}
			return b.a.rec, b, nil
		},
		"Stream.Alloc": func() (*tracker.Record, freer, error) {
			b, err := s.AllocZeroed("test/stack", 8)
			if err != nil {
				return nil, nil, err
			}
			return b.a.rec, b, nil
		},
		"AllocSlice": func() (*tracker.Record, freer, error) {
			d, err := AllocSlice[int64](shared, "test/stack", 1)
			if err != nil {
				return nil, nil, err
			}
			return d.Buffer().a.rec, d, nil
		},
		"CloneHtoD": func() (*tracker.Record, freer, error) {
			d, err := CloneHtoD(shared, "test/stack", []int64{1})
			if err != nil {
				return nil, nil, err
			}
			return d.Buffer().a.rec, d, nil
		},
		"CloneHtoDOn": func() (*tracker.Record, freer, error) {
			d, err := CloneHtoDOn(s, "test/stack", []int64{1})
			if err != nil {
				return nil, nil, err
			}
			return d.Buffer().a.rec, d, nil
		},
		"AllocSliceOn": func() (*tracker.Record, freer, error) {
			d, err := AllocSliceOn[int64](s, "test/stack", 1)
			if err != nil {
				return nil, nil, err
			}
			return d.Buffer().a.rec, d, nil
		},
		"AllocPinned": func() (*tracker.Record, freer, error) {
			p, err := shared.AllocPinned("test/stack", 8)
			if err != nil {
				return nil, nil, err
			}
			return p.a.rec, p, nil
		},
	}
	for name, alloc := range paths {
		rec, f, err := alloc()
		require.NoError(t, err, "%s", name)
		if site := stacks.Site(rec.Stack()); !strings.Contains(site, "TestLedgerStacks.func") {
			t.Errorf("%s: stack starts at %q, want the test's code", name, site)
		}
		require.NoError(t, f.Free())
	}
}

// TestCloseWhileInUse closes a context while goroutines allocate, copy,
// launch and free through it: every call either works or fails with
// ErrClosed, and nothing is left in the ledger.
func TestCloseWhileInUse(t *testing.T) {
	defer leaktest.VerifyNone(t)
	c, err := Open(0)
	require.NoError(t, err)
	s, err := c.NewStream()
	require.NoError(t, err)
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	start := make(chan struct{})
	var racing atomic.Int32 // goroutines past their first round
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for i := 0; ; i++ {
				if i == 1 {
					racing.Add(1)
				}
				var x *DeviceSlice[float32]
				var err error
				if g%2 == 0 {
					x, err = CloneHtoD(c, "test/close-race", []float32{1, 2})
				} else {
					x, err = CloneHtoDOn(s, "test/close-race", []float32{1, 2})
				}
				if err == nil {
					err = Scale(s, x, x, 2)
					if e := x.Free(); err == nil {
						err = e
					}
				}
				if err != nil {
					if !errors.Is(err, ErrClosed) {
						errs <- err
					}
					return
				}
			}
		}()
	}
	close(start)
	// Close once every goroutine is in its loop, however the scheduler
	// runs them, so that Close races with all four.
	testkit.Eventually(t, func(ct *assert.CollectT) { assert.EqualValues(ct, 4, racing.Load(), "goroutines racing") })
	assert.NoError(t, c.Close())
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("a call racing with Close: %v", err)
	}
	assert.EqualValues(t, 0, liveBytes(kindDevice, "test/close-race")+liveBytes(kindPool, "test/close-race"))
}

// An operation's operands past the fourth go to the spill slices, in order.
func TestOperandsPastFour(t *testing.T) {
	var o operands
	as := make([]*allocation, 7)
	for i := range as {
		as[i] = &allocation{n: i}
		o.add(as[i], DevicePtr(0x1000*(i+1)))
	}
	if o.n != 7 || len(o.moreA) != 3 {
		t.Fatalf("%d operands, %d spilled; want 7 and 3", o.n, len(o.moreA))
	}
	for i := range as {
		if o.alloc(i) != as[i] || o.ptr(i) != DevicePtr(0x1000*(i+1)) {
			t.Errorf("operand %d: %p at %#x, want %p at %#x", i, o.alloc(i), o.ptr(i), as[i], 0x1000*(i+1))
		}
	}
}
