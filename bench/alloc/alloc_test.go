package alloc

import (
	"fmt"
	"os"
	"runtime"
	"testing"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/arrow/memory/mallocator"
	"github.com/dgraph-io/ristretto/v2/z"

	"github.com/membridge/membridge/internal/benchround"
	"github.com/membridge/membridge/native"
	"github.com/membridge/membridge/tracker"
	"github.com/membridge/membridge/tracker/stacks"
)

// LiveHeapMiB is the size of the live Go heap kept while benchmarking: a
// service's worth of small pointerful objects that every collection has
// to mark.
const LiveHeapMiB = 64

// node is one object of the live heap: a pointer the collector must follow
// and a payload, 64 bytes in all.
type node struct {
	next    *node
	payload [56]byte
}

var liveHeap *node

func TestMain(m *testing.M) {
	for range LiveHeapMiB << 20 / int(unsafe.Sizeof(node{})) {
		liveHeap = &node{next: liveHeap}
	}
	runtime.GC()
	code := m.Run()
	runtime.KeepAlive(liveHeap)
	os.Exit(code)
}

var sizes = []int{64, 4 << 10, 1 << 20}

// arrowCheckedDepth is how many frames arrow's CheckedAllocator keeps per
// allocation by default: it stores one caller (runtime.Caller) and retains
// ARROW_CHECKED_MAX_RETAINED_FRAMES more, 0 unless set. Our all mode is
// compared with it at this depth.
const arrowCheckedDepth = 1

// sink keeps Go allocations on the heap, as they would be in a program that
// hands the buffer on.
var sink []byte

type impl struct {
	name string
	run  func(b *testing.B, n int)
}

func membridge(rate int64, depth int) func(b *testing.B, n int) {
	return func(b *testing.B, n int) {
		defer tracker.SetStackRate(tracker.SetStackRate(rate))
		// membridge-all is the checked mode: every stack and the checks.
		defer tracker.SetChecking(tracker.SetChecking(rate == 1))
		stacks.SetStackDepth(depth)
		defer stacks.SetStackDepth(32)
		for b.Loop() {
			buf, err := native.Alloc("bench", n)
			if err != nil {
				b.Fatal(err)
			}
			if err := buf.Free(); err != nil {
				b.Fatal(err)
			}
		}
	}
}

func arrow(mem memory.Allocator) func(b *testing.B, n int) {
	return func(b *testing.B, n int) {
		for b.Loop() {
			buf := mem.Allocate(n)
			mem.Free(buf)
		}
	}
}

var impls = []impl{
	{"cgo", func(b *testing.B, n int) {
		for b.Loop() {
			p := cMalloc(n)
			if p == nil {
				b.Fatal("malloc failed")
			}
			cFree(p)
		}
	}},
	{"gomake", func(b *testing.B, n int) {
		for b.Loop() {
			sink = make([]byte, n)
		}
		sink = nil
	}},
	{"membridge-off", membridge(0, 32)},
	{"membridge-sampled", membridge(stacks.DefaultSampleRate, 32)},
	{"membridge-all", membridge(1, 32)},
	{fmt.Sprintf("membridge-all-depth%d", arrowCheckedDepth), membridge(1, arrowCheckedDepth)},
	{"arrow-mallocator", arrow(mallocator.NewMallocator())},
	{"arrow-checked", arrow(memory.NewCheckedAllocator(mallocator.NewMallocator()))},
	// Without the jemalloc build tag (and a je_-prefixed jemalloc in
	// /usr/local/lib) z.Calloc is make([]byte, n) and z.Free does nothing.
	{"ristretto-z", func(b *testing.B, n int) {
		for b.Loop() {
			buf := z.Calloc(n, "bench")
			sink = buf
			z.Free(buf)
		}
		sink = nil
	}},
}

// BenchmarkAllocFree times one allocation and its free. Names are
// AllocFree/size=<bytes>/impl=<allocator>, so `benchstat -col /impl` puts
// the allocators side by side; with -rounds N (make figures) every case
// runs N times, interleaved, each name ending in /round=R.
//
// Besides wall time (ns/op) each reports cpu-ns/op: the CPU time of the
// whole process per operation. It counts the collector's work on other
// cores, which ns/op misses when the machine has a core to spare, and it
// does not count time the benchmark spent waiting for a core, which ns/op
// does when the machine is shared and busy.
func BenchmarkAllocFree(b *testing.B) {
	var cases []benchround.Case
	for _, n := range sizes {
		for _, im := range impls {
			cases = append(cases, benchround.Case{
				Name: fmt.Sprintf("size=%d/impl=%s", n, im.name),
				Run: func(b *testing.B) {
					b.ReportAllocs()
					cpu0 := processCPU()
					im.run(b, n)
					if cpu1 := processCPU(); cpu0 >= 0 && cpu1 >= 0 {
						b.ReportMetric(float64(cpu1-cpu0)/float64(b.N), "cpu-ns/op")
					}
				},
			})
		}
	}
	benchround.Run(b, cases)
}
