//go:build cuda

// Package overhead measures what membridge's cuda package adds to the
// driver calls it makes, on the stand-in driver (cuda/fakecuda), side by
// side with the bare gorgonia.org/cu calls in one run:
//
//	make cuda-bench
//
// It holds benchmarks only, and runs them in the ledger's production mode:
// the test mode (leaktest.VerifyTestMain) notes each allocation's goroutine
// by formatting a stack (tracker/goroutine.go), which costs some 20 µs per
// allocation, fifty times the operation measured here. The run still ends
// with both leak checks: no record left in the ledger (leaktest.Find) and
// nothing left in the stand-in (its counters).
package overhead

import (
	"fmt"
	"os"
	"runtime"
	"testing"
	"unsafe"

	"gorgonia.org/cu"

	"github.com/membridge/membridge/cuda"
	"github.com/membridge/membridge/cuda/fakecuda"
	"github.com/membridge/membridge/internal/benchround"
	"github.com/membridge/membridge/tracker"
	"github.com/membridge/membridge/tracker/leaktest"
)

var ctx *cuda.Context

func TestMain(m *testing.M) {
	if !fakecuda.Active() {
		fmt.Fprintln(os.Stderr, "overhead: not running on the stand-in driver; see docs/cuda-without-gpu.md")
		os.Exit(1)
	}
	var err error
	if ctx, err = cuda.Open(0); err != nil {
		fmt.Fprintln(os.Stderr, "overhead:", err)
		os.Exit(1)
	}
	code := m.Run()
	if err := ctx.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "overhead:", err)
		code = 1
	}
	if err := leaktest.Find(); err != nil {
		fmt.Fprintln(os.Stderr, "overhead:", err)
		code = 1
	}
	if c, _ := fakecuda.Read(); c.Idle() != nil {
		fmt.Fprintln(os.Stderr, "overhead:", c.Idle())
		code = 1
	}
	os.Exit(code)
}

const n = 256 // bytes per allocation; the launches scale 64 float32s

// The bare calls run on a locked OS thread with the context current, as
// gorgonia's CUContext.Lock leaves them: the cheapest way to call the
// driver from Go. membridge's calls need no locked thread: each pushes and
// pops the context within its one cgo call.

func BenchmarkAllocFree(b *testing.B) {
	var cases []benchround.Case
	cases = append(cases, benchround.Case{Name: "impl=gorgonia", Run: func(b *testing.B) {
		onLockedContext(b, func() {
			for b.Loop() {
				p, err := cu.MemAlloc(n)
				if err != nil {
					b.Fatal(err)
				}
				if err := cu.MemFree(p); err != nil {
					b.Fatal(err)
				}
			}
		})
	}})
	// The ledger's part alone: what every device allocation passes through
	// (tracker.Allocate: reserve, commit with the safety net watching a
	// handle; release, reuse of the record), with no driver call and no
	// context. Its ratio
	// to the bare pair is the least the membridge row can cost over it.
	cases = append(cases, benchround.Case{Name: "impl=ledger", Run: func(b *testing.B) {
		for b.Loop() {
			h := new(ledgerHandle)
			r, err := tracker.Allocate(h, tracker.Request{Kind: cuda.KindDevice, Device: 0, Tag: "bench/ledger", Bytes: n},
				func() (uintptr, error) { return 0x1000, nil }, nil)
			if err != nil {
				b.Fatal(err)
			}
			if !r.Retire() {
				b.Fatal("release of a live record failed")
			}
		}
	}})
	cases = append(cases, benchround.Case{Name: "impl=membridge", Run: pairOf(func() (*cuda.DeviceBuffer, error) { return ctx.Alloc("bench/allocfree", n) })})
	benchround.Run(b, cases)
}

// pairOf times an allocation by alloc and its Free.
func pairOf(alloc func() (*cuda.DeviceBuffer, error)) func(b *testing.B) {
	return func(b *testing.B) {
		for b.Loop() {
			buf, err := alloc()
			if err != nil {
				b.Fatal(err)
			}
			if err := buf.Free(); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkAllocFreeOnStream is a device alloc+free pair of one size on one
// stream, as a service's steady state makes them: membridge's (served by
// the context's cache of freed memory after the first pair: no driver
// call), on the default stream (Context.Alloc) and on a stream of its own
// (Stream.Alloc, the device's pool behind a miss), against the bare
// cuMemAlloc+cuMemFree pair through gorgonia on a locked thread.
func BenchmarkAllocFreeOnStream(b *testing.B) {
	for _, size := range []struct {
		name string
		n    int
	}{{"256B", 256}, {"1MiB", 1 << 20}} {
		b.Run("size="+size.name, func(b *testing.B) {
			n := size.n
			s, err := ctx.NewStream()
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			var cases []benchround.Case
			cases = append(cases, benchround.Case{Name: "impl=gorgonia", Run: func(b *testing.B) {
				onLockedContext(b, func() {
					for b.Loop() {
						p, err := cu.MemAlloc(int64(n))
						if err != nil {
							b.Fatal(err)
						}
						if err := cu.MemFree(p); err != nil {
							b.Fatal(err)
						}
					}
				})
			}})
			cases = append(cases,
				benchround.Case{Name: "impl=membridge", Run: pairOf(func() (*cuda.DeviceBuffer, error) { return ctx.Alloc("bench/allocfree", n) })},
				benchround.Case{Name: "impl=membridge-stream", Run: pairOf(func() (*cuda.DeviceBuffer, error) { return s.Alloc("bench/allocfree", n) })})
			benchround.Run(b, cases)
			if _, err := ctx.EmptyCache(); err != nil {
				b.Fatal(err)
			}
		})
	}
}

// ledgerHandle stands for a device handle (a DeviceBuffer is a pointer
// and a state word) in the ledger-only row.
type ledgerHandle struct {
	_ uintptr
	_ uint32 // the state word
}

func BenchmarkLaunch(b *testing.B) {
	var cases []benchround.Case
	cases = append(cases, benchround.Case{Name: "impl=gorgonia", Run: func(b *testing.B) {
		onLockedContext(b, func() {
			m, err := cu.LoadData(".version 7.8\n.target sm_90\n.address_size 64\n.visible .entry mb_scale_f32(\n)\n")
			if err != nil {
				b.Fatal(err)
			}
			defer m.Unload()
			fn, err := m.Function("mb_scale_f32")
			if err != nil {
				b.Fatal(err)
			}
			y, err := cu.MemAlloc(n)
			if err != nil {
				b.Fatal(err)
			}
			defer cu.MemFree(y)
			x, err := cu.MemAlloc(n)
			if err != nil {
				b.Fatal(err)
			}
			defer cu.MemFree(x)
			// Every argument in an 8-byte slot (gorgonia reads 8 bytes of
			// each); float32(2) is 0x40000000, in the slot's low 4 bytes.
			slots := []uint64{uint64(y), uint64(x), 0x40000000, n / 4}
			params := []unsafe.Pointer{unsafe.Pointer(&slots[0]), unsafe.Pointer(&slots[1]),
				unsafe.Pointer(&slots[2]), unsafe.Pointer(&slots[3])}
			for b.Loop() {
				if err := fn.Launch(1, 1, 1, 64, 1, 1, 0, cu.Stream{}, params); err != nil {
					b.Fatal(err)
				}
			}
		})
	}})
	cases = append(cases, benchround.Case{Name: "impl=membridge", Run: func(b *testing.B) {
		fn, err := ctx.BuiltinFunction("mb_scale_f32")
		if err != nil {
			b.Fatal(err)
		}
		y, err := cuda.AllocSlice[float32](ctx, "bench/y", n/4)
		if err != nil {
			b.Fatal(err)
		}
		defer y.Free()
		x, err := cuda.AllocSlice[float32](ctx, "bench/x", n/4)
		if err != nil {
			b.Fatal(err)
		}
		defer x.Free()
		s := ctx.DefaultStream()
		cfg := cuda.LaunchConfig{Grid: cuda.Dim3{X: 1}, Block: cuda.Dim3{X: 64}}
		for b.Loop() {
			if err := fn.Launch(s, cfg, y, x, float32(2), uint64(n/4)); err != nil {
				b.Fatal(err)
			}
		}
	}})
	benchround.Run(b, cases)
}

// onLockedContext runs f on a locked OS thread with device 0's primary
// context current.
func onLockedContext(b *testing.B, f func()) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	d, err := cu.GetDevice(0)
	if err != nil {
		b.Fatal(err)
	}
	pc, err := d.RetainPrimaryCtx()
	if err != nil {
		b.Fatal(err)
	}
	defer d.ReleasePrimaryCtx()
	if err := pc.Lock(); err != nil {
		b.Fatal(err)
	}
	defer cu.PopCurrentCtx()
	f()
}
