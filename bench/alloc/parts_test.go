package alloc

import (
	"math"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The benchmarks in this file time, one by one, the operations that
// membridge's Alloc+Free pair is made of, so that a profile of the pair can
// be read in nanoseconds. They do not call membridge.

type handle struct {
	p    uintptr
	n    int
	rec  *int
	s    atomic.Uint32
	more *int
}

var handleSink *handle

func BenchmarkPart(b *testing.B) {
	b.Run("op=AddCleanup+Stop", func(b *testing.B) {
		b.ReportAllocs()
		arg := new(int)
		for b.Loop() {
			h := &handle{}
			handleSink = h
			c := runtime.AddCleanup(h, func(*int) {}, arg)
			c.Stop()
		}
	})
	b.Run("op=AddCleanup-only", func(b *testing.B) {
		b.ReportAllocs()
		arg := new(int)
		for b.Loop() {
			h := &handle{}
			handleSink = h
			runtime.AddCleanup(h, func(*int) {}, arg)
		}
	})
	b.Run("op=SetFinalizer+clear", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			h := &handle{}
			handleSink = h
			runtime.SetFinalizer(h, func(*handle) {})
			runtime.SetFinalizer(h, nil)
		}
	})
	b.Run("op=new-handle-48B", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			handleSink = &handle{}
		}
	})
	epoch := time.Now()
	var d time.Duration
	b.Run("op=time.Since", func(b *testing.B) {
		for b.Loop() {
			d += time.Since(epoch)
		}
	})
	type key struct {
		kind   uint8
		device int32
		tag    string
	}
	var sm sync.Map
	sm.Store(key{1, -1, "bench"}, new(int))
	b.Run("op=sync.Map.Load-struct-key", func(b *testing.B) {
		b.ReportAllocs()
		tag := "bench"
		for b.Loop() {
			if _, ok := sm.Load(key{1, -1, tag}); !ok {
				b.Fatal("missing")
			}
		}
	})
	var cow atomic.Pointer[map[key]*int]
	m := map[key]*int{{1, -1, "bench"}: new(int)}
	cow.Store(&m)
	b.Run("op=cow-map-load-struct-key", func(b *testing.B) {
		b.ReportAllocs()
		tag := "bench"
		for b.Loop() {
			if (*cow.Load())[key{1, -1, tag}] == nil {
				b.Fatal("missing")
			}
		}
	})
	var ctr [24]struct {
		v atomic.Int64
		_ [56]byte
	}
	b.Run("op=24-atomic-adds", func(b *testing.B) {
		for b.Loop() {
			for i := range ctr {
				ctr[i].v.Add(1)
			}
		}
	})
	var mu sync.Mutex
	b.Run("op=mutex-lock-unlock", func(b *testing.B) {
		for b.Loop() {
			mu.Lock()
			mu.Unlock()
		}
	})
	var f float64
	b.Run("op=rand+expm1", func(b *testing.B) {
		for b.Loop() {
			f += rand.Float64() + math.Expm1(-64.0/524288)
		}
	})
	for _, depth := range []int{1, 32} {
		b.Run("op=runtime.Callers-skip5-depth"+itoa(depth), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				nest(4, func() { pcs := make([]uintptr, depth); runtime.Callers(5, pcs) })
			}
		})
	}
	b.Run("op=runtime.Caller-4(arrow)", func(b *testing.B) {
		for b.Loop() {
			nest(4, func() { runtime.Caller(4) })
		}
	})
	_ = d
	_ = f
}

// nest calls fn depth frames down, to give stack walks frames to skip.
//
//go:noinline
func nest(depth int, fn func()) {
	if depth == 0 {
		fn()
		return
	}
	nest(depth-1, fn)
}

func itoa(n int) string {
	if n < 10 {
		return string(rune('0' + n))
	}
	return itoa(n/10) + string(rune('0'+n%10))
}
