package tracker_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/membridge/membridge/tracker"
	"github.com/membridge/membridge/tracker/leaktest"
)

// exampleBuffer stands for an owner's handle (native.Buffer).
type exampleBuffer struct {
	rec *tracker.Record
	mem []byte
}

// An owner hands the ledger what it wants and how to allocate it; the
// ledger reserves the bytes, calls the allocator (relieving memory and
// retrying once if it runs out), commits the record and watches the
// handle. This is what packages native and cuda do for every allocation.
func ExampleAllocate() {
	b := &exampleBuffer{}
	rec, err := tracker.Allocate(b, tracker.Request{Kind: kindCHeap, Device: -1, Tag: "example-allocate", Bytes: 4096},
		func() (uintptr, error) {
			b.mem = make([]byte, 4096) // C memory, in a real owner
			return 0xdead000, nil
		}, nil)
	if err != nil {
		panic(err)
	}
	b.rec = rec
	fmt.Println(tracker.TagStats("example-allocate").LiveBytes, rec.Snapshot().Addr == 0xdead000)
	rec.Release() // the owner's Free
	fmt.Println(tracker.TagStats("example-allocate").LiveBytes)
	// Output:
	// 4096 true
	// 0
}

// Memory that exists already, with no Go handle to watch, enters the
// ledger at its address; only Release ends it.
func ExampleAllocateUnwatched() {
	rec, err := tracker.AllocateUnwatched(tracker.Request{Kind: kindCHeap, Device: -1, Tag: "example-unwatched", Bytes: 64, Addr: 0xc0ffee0}, nil, nil)
	if err != nil {
		panic(err)
	}
	s := rec.Snapshot()
	fmt.Println(s.Kind, s.Bytes, s.Live)
	rec.Release()
	fmt.Println(rec.Snapshot().Live, s.Live) // the snapshot is a value
	// Output:
	// c-heap 64 true
	// false true
}

// LiveSnapshots lists what the ledger holds as values, which stay valid
// however the records end.
func ExampleLiveSnapshots() {
	rec, _ := tracker.AllocateUnwatched(tracker.Request{Kind: kindCHeap, Device: -1, Tag: "example-snapshots", Bytes: 10}, nil, nil)
	defer rec.Release()
	for _, s := range tracker.LiveSnapshots() {
		if s.Tag == "example-snapshots" {
			fmt.Println(s.Bytes, s.Live, s.Dropped, s.Age() >= 0)
		}
	}
	// Output: 10 true false true
}

func ExampleSetTagLimit() {
	tracker.SetTagLimit("example-budget", 1024)
	defer tracker.SetTagLimit("example-budget", 0)
	_, err := tracker.AllocateUnwatched(tracker.Request{Kind: kindCHeap, Device: -1, Tag: "example-budget", Bytes: 2048}, nil, nil)
	fmt.Println(errors.Is(err, tracker.ErrLimit))
	// Output: true
}

func ExampleSetStackRate() {
	// Keep every allocation stack while chasing a leak, then go back.
	previous := tracker.SetStackRate(1)
	defer tracker.SetStackRate(previous)
	fmt.Println(tracker.Checking())
	// Output: true
}

func ExampleFind() {
	rec, _ := tracker.AllocateUnwatched(tracker.Request{Kind: kindCHeap, Device: -1, Tag: "example-find", Bytes: 10, Addr: 0x1000}, nil, nil)
	err := leaktest.Find(leaktest.MaxWait(0), leaktest.IgnoreTags("unrelated"))
	fmt.Println(errors.Is(err, leaktest.ErrLeaked))
	rec.Release()
	fmt.Println(leaktest.Find(leaktest.MaxWait(0)))
	// Output:
	// true
	// <nil>
}

// VerifyNone at the end of a test fails it if native memory the test made
// is still live.
func ExampleVerifyNone() {
	t := &testing.T{} // in a real test, the test's own *testing.T
	defer leaktest.VerifyNone(t)
	// ... allocate and free through membridge ...
}

// VerifyTestMain runs a package's tests in the leak-tracking test mode.
func ExampleVerifyTestMain() {
	var m *testing.M // func TestMain(m *testing.M) { leaktest.VerifyTestMain(m) }
	_ = m
}

func ExampleKindStats() {
	s := tracker.KindStats(kindDevice)
	fmt.Println(s.Kind, s.LiveBytes >= 0)
	// Output: device true
}

// A Recorder lets a test plant a leak and assert that it is reported,
// without failing itself.
func ExampleRecorder() {
	rec, _ := tracker.AllocateUnwatched(tracker.Request{Kind: kindCHeap, Device: -1, Tag: "example-planted", Bytes: 32, Addr: 0x1000}, nil, nil)
	r := &leaktest.Recorder{TestName: "TestPlanted"}
	leaktest.VerifyNone(r, leaktest.MaxWait(0), leaktest.IgnoreTags("unrelated"))
	fmt.Println(strings.Contains(r.Report(), `32 bytes in 1 allocation, tag "example-planted"`))
	rec.Release()
	// Output: true
}

// exampleHandle stands for an owner's handle (native.Buffer, cuda.DeviceBuffer).
type exampleHandle struct{ rec *tracker.Record }

// An owner allocates with the handle the safety net watches; a
// handle dropped without its free is then reclaimed through the owner's
// Reclaimer. tracker.GC arms the handles still in the nursery and collects,
// so one call finds the drop.
func ExampleGC() {
	defer tracker.SetLeakPolicy(tracker.SetLeakPolicy(tracker.LeakFree))
	tracker.SetLeakHandler(func(*tracker.Record) {}) // no log line
	defer tracker.SetLeakHandler(nil)
	reclaimed := make(chan int64, 1)
	before := tracker.TagStats("example-gc").DroppedCount
	func() {
		h := &exampleHandle{}
		rec, err := tracker.Allocate(h, tracker.Request{Kind: kindCHeap, Device: -1, Tag: "example-gc", Bytes: 512, Addr: 0xdead000}, nil,
			tracker.ReclaimFunc(func(r *tracker.Record) { reclaimed <- r.Bytes() }))
		if err != nil {
			panic(err)
		}
		h.rec = rec
	}() // the handle is dropped here, never freed
	for {
		tracker.GC()
		select {
		case n := <-reclaimed:
			fmt.Println(n, "bytes reclaimed;", tracker.TagStats("example-gc").DroppedCount-before, "dropped")
			return
		case <-time.After(10 * time.Millisecond):
		}
	}
	// Output: 512 bytes reclaimed; 1 dropped
}
