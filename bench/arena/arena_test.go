package arena

import (
	"os"
	"runtime"
	"testing"
	"unsafe"

	"github.com/dgraph-io/ristretto/v2/z"
	"github.com/membridge/membridge/internal/benchround"
	"github.com/membridge/membridge/native"
	"github.com/membridge/membridge/tracker/leaktest"
)

// The benchmarks measure the sampled mode, membridge's default outside
// tests; the test mode would otherwise switch to the debug mode, where an
// arena gives its chunks back at every Reset.
func TestMain(m *testing.M) {
	if os.Getenv("MEMBRIDGE_TRACK") == "" {
		os.Setenv("MEMBRIDGE_TRACK", "sample")
	}
	leaktest.VerifyTestMain(m)
}

const (
	objSize = 64
	batch   = 2048 // allocations per request; then Reset (or the ring wraps)
)

// liveHeap keeps a pointer-rich Go heap alive during every benchmark, as a
// service has, so that Go's new pays for the collections its garbage
// causes. 64 MiB in 1 M small linked nodes.
var liveHeap []*node

type node struct {
	next *node
	pad  [48]byte
}

func init() {
	n := 1 << 20
	if os.Getenv("ARENA_BENCH_SMALL_HEAP") != "" {
		n = 1 << 10
	}
	liveHeap = make([]*node, n)
	for i := range liveHeap {
		liveHeap[i] = &node{}
		if i > 0 {
			liveHeap[i].next = liveHeap[i-1]
		}
	}
}

var sink unsafe.Pointer

// BenchmarkAlloc64 times one 64 B allocation; with -rounds N (make
// figures) every case runs N times, interleaved.
func BenchmarkAlloc64(b *testing.B) {
	var cases []benchround.Case
	run := func(name string, f func(b *testing.B)) {
		cases = append(cases, benchround.Case{Name: name, Run: func(b *testing.B) {
			runtime.GC() // start each from a finished collection of the live heap
			f(b)
		}})
	}
	run("impl=bump", func(b *testing.B) {
		s := newSlab(batch * objSize)
		defer s.free()
		var p unsafe.Pointer
		for b.Loop() {
			p = s.alloc(objSize)
		}
		sink = p
	})
	run("impl=bump-call", func(b *testing.B) {
		s := newSlab(batch * objSize)
		defer s.free()
		var p unsafe.Pointer
		for b.Loop() {
			p = s.allocCall(objSize)
		}
		sink = p
	})
	run("impl=arena", func(b *testing.B) {
		a := native.NewArena("bench", 0)
		defer a.Free()
		var p unsafe.Pointer
		i := 0
		for b.Loop() {
			p, _ = a.Alloc(objSize, 8)
			if i++; i == batch {
				a.Reset()
				i = 0
			}
		}
		sink = p
	})
	run("impl=arena-try", func(b *testing.B) {
		// The inlinable fast path, with Alloc as the fallback.
		a := native.NewArena("bench", 0)
		defer a.Free()
		var p unsafe.Pointer
		i := 0
		for b.Loop() {
			if p = a.TryAlloc(objSize, 8); p == nil {
				p, _ = a.Alloc(objSize, 8)
			}
			if i++; i == batch {
				a.Reset()
				i = 0
			}
		}
		sink = p
	})
	run("impl=ristretto-z", func(b *testing.B) {
		a := z.NewAllocator(batch*objSize, "bench")
		defer a.Release()
		var p []byte
		i := 0
		for b.Loop() {
			p = a.Allocate(objSize)
			if i++; i == batch {
				a.Reset()
				i = 0
			}
		}
		sink = unsafe.Pointer(&p[0])
	})
	run("impl=go-new", func(b *testing.B) {
		// Each object lives for one batch, as in an arena.
		ring := make([]*[objSize]byte, batch)
		i := 0
		for b.Loop() {
			ring[i] = new([objSize]byte)
			if i++; i == batch {
				i = 0
			}
		}
		runtime.KeepAlive(ring)
	})
	run("impl=cgo-malloc-free", func(b *testing.B) {
		for b.Loop() {
			cFree(cMalloc(objSize))
		}
	})
	benchround.Run(b, cases)
	runtime.KeepAlive(liveHeap)
}
