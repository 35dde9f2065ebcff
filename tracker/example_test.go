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

// An owner reserves bytes, allocates, commits, and releases: this is what
// packages native and cuda do for every allocation.
func ExampleReserve() {
	rec, err := tracker.Reserve(kindCHeap, -1, "example-reserve", 4096, 0)
	if err != nil {
		panic(err)
	}
	rec.Commit(0xdead000, nil) // the address the allocator returned
	fmt.Println(tracker.TagStats("example-reserve").LiveBytes)
	rec.Release()
	fmt.Println(tracker.TagStats("example-reserve").LiveBytes)
	// Output:
	// 4096
	// 0
}

func ExampleSetTagLimit() {
	tracker.SetTagLimit("example-budget", 1024)
	defer tracker.SetTagLimit("example-budget", 0)
	_, err := tracker.Reserve(kindCHeap, -1, "example-budget", 2048, 0)
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
	rec, _ := tracker.Reserve(kindCHeap, -1, "example-find", 10, 0)
	rec.Commit(0x1000, nil)
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
	rec, _ := tracker.Reserve(kindCHeap, -1, "example-planted", 32, 0)
	rec.Commit(0x1000, nil)
	r := &leaktest.Recorder{TestName: "TestPlanted"}
	leaktest.VerifyNone(r, leaktest.MaxWait(0), leaktest.IgnoreTags("unrelated"))
	fmt.Println(strings.Contains(r.Report(), `32 bytes in 1 allocation, tag "example-planted"`))
	rec.Release()
	// Output: true
}

// exampleHandle stands for an owner's handle (native.Buffer, cuda.DeviceBuffer).
type exampleHandle struct{ rec *tracker.Record }

// An owner commits its record with the handle the safety net watches; a
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
		rec, err := tracker.Reserve(kindCHeap, -1, "example-gc", 512, 0)
		if err != nil {
			panic(err)
		}
		h := &exampleHandle{rec: rec}
		tracker.CommitWatched(h, rec, 0xdead000, tracker.ReclaimFunc(func(r *tracker.Record) { reclaimed <- r.Bytes() }))
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
