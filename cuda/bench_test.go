package cuda

import (
	"testing"
	"time"
	"unsafe"

	"github.com/membridge/membridge/internal/benchround"
)

// Benchmarks of the API on whichever backend the binary was built with.
// Compare sub-benchmarks of one run (benchstat -col /impl): the ratios are
// what the README reports.

func BenchmarkAllocFree(b *testing.B) {
	s, err := shared.NewStream()
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	b.Run("impl=plain", func(b *testing.B) {
		for b.Loop() {
			d, err := shared.Alloc("bench/alloc", 256)
			if err != nil {
				b.Fatal(err)
			}
			d.Free()
		}
	})
	b.Run("impl=stream-ordered", func(b *testing.B) {
		for b.Loop() {
			d, err := s.Alloc("bench/alloc", 256)
			if err != nil {
				b.Fatal(err)
			}
			d.Free()
		}
		s.Synchronize()
	})
}

// BenchmarkAllocFreeVersusBare is a device alloc+free pair of one size on
// one stream, repeated as a service's steady state repeats it: membridge's
// on the default stream (Context.Alloc) and on a stream (Stream.Alloc),
// served by the context's cache after the first pair, against the bare
// allocator pair beneath (bareAlloc: the C heap's on the host backend,
// cuMemAlloc+cuMemFree on the cuda one), in interleaved rounds
// (-rounds N; benchstat -col /impl).
func BenchmarkAllocFreeVersusBare(b *testing.B) {
	for _, size := range pairSizes {
		b.Run("size="+size.name, func(b *testing.B) {
			n := size.n
			s, err := shared.NewStream()
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			cases := append([]benchround.Case{
				{Name: "impl=bare", Run: func(b *testing.B) {
					for b.Loop() {
						p, err := bareAlloc(shared.h, n)
						if err != nil {
							b.Fatal(err)
						}
						if err := bareFree(shared.h, p, n); err != nil {
							b.Fatal(err)
						}
					}
				}},
			}, membridgePairs("bench/alloc", s, n)...)
			benchround.Run(b, cases)
			if _, err := shared.EmptyCache(); err != nil {
				b.Fatal(err)
			}
		})
	}
}

func BenchmarkLaunch(b *testing.B) {
	x, err := AllocSliceZeroed[float32](shared, "bench/launch", 256)
	if err != nil {
		b.Fatal(err)
	}
	defer x.Free()
	f, err := shared.BuiltinFunction("mb_scale_f32")
	if err != nil {
		b.Fatal(err)
	}
	s := shared.DefaultStream()
	cfg := LaunchConfig{Grid: Dim3{X: 1}, Block: Dim3{X: 256}}
	b.Run("impl=Function.Launch", func(b *testing.B) {
		for b.Loop() {
			if err := f.Launch(s, cfg, x, x, float32(1), uint64(256)); err != nil {
				b.Fatal(err)
			}
		}
		s.Synchronize()
	})
	b.Run("impl=Scale", func(b *testing.B) {
		for b.Loop() {
			if err := Scale(s, x, x, 1); err != nil {
				b.Fatal(err)
			}
		}
		s.Synchronize()
	})
}

// BenchmarkCopy256MiB compares the copies of the API with a bare copy of
// the same bytes between the same kinds of memory, without the API's
// checks: C's memcpy in one cgo call on the host backend, one
// cuMemcpyHtoD on a GPU; and, on the host backend, Go's copy between Go
// slices.
func BenchmarkCopy256MiB(b *testing.B) {
	const n = 256 << 20
	host := make([]byte, n)
	for i := range host {
		host[i] = byte(i)
	}
	d, err := shared.Alloc("bench/copy", n)
	if err != nil {
		b.Fatal(err)
	}
	defer d.Free()
	ptr, _ := d.DevicePtr()
	src := unsafe.Pointer(&host[0])
	b.Run("impl=CopyHtoD", func(b *testing.B) {
		b.SetBytes(n)
		for b.Loop() {
			if err := CopyHtoD(d, host); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("impl=CopyDtoH", func(b *testing.B) {
		b.SetBytes(n)
		for b.Loop() {
			if err := CopyDtoH(host, d); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("impl=bare", func(b *testing.B) {
		b.SetBytes(n)
		for b.Loop() {
			if err := bareCopyHtoD(shared.h, ptr, src, n); err != nil {
				b.Fatal(err)
			}
		}
	})
	if Backend == "host" {
		other := make([]byte, n)
		b.Run("impl=go-copy", func(b *testing.B) {
			b.SetBytes(n)
			for b.Loop() {
				copy(other, host)
			}
		})
	}
}

// BenchmarkCopy256MiBPaired times each API copy and the bare copy of the
// same bytes back to back in every iteration, and reports the API's speed
// as a fraction of the bare copy's (HtoD/bare, DtoH/bare: 1 means as fast,
// the target is at least 0.8). Pairing the two in each iteration keeps
// load from other work on the machine from favouring either.
func BenchmarkCopy256MiBPaired(b *testing.B) {
	const n = 256 << 20
	host := make([]byte, n)
	for i := range host {
		host[i] = byte(i)
	}
	d, err := shared.Alloc("bench/copy", n)
	if err != nil {
		b.Fatal(err)
	}
	defer d.Free()
	ptr, _ := d.DevicePtr()
	p := unsafe.Pointer(&host[0])
	// Touch every page of both sides first, so no copy pays for first
	// faults.
	if err := bareCopyHtoD(shared.h, ptr, p, n); err != nil {
		b.Fatal(err)
	}
	timed := func(f func() error) time.Duration {
		t0 := time.Now()
		if err := f(); err != nil {
			b.Fatal(err)
		}
		return time.Since(t0)
	}
	steps := [4]func() error{
		func() error { return CopyHtoD(d, host) },
		func() error { return bareCopyHtoD(shared.h, ptr, p, n) },
		func() error { return CopyDtoH(host, d) },
		func() error { return bareCopyDtoH(shared.h, p, ptr, n) },
	}
	var took [4]time.Duration
	b.SetBytes(4 * n)
	odd := false
	for b.Loop() {
		// Alternate which of each pair goes first, so neither always
		// follows the other's cache state.
		for _, pair := range [2][2]int{{0, 1}, {2, 3}} {
			if odd {
				pair[0], pair[1] = pair[1], pair[0]
			}
			took[pair[0]] += timed(steps[pair[0]])
			took[pair[1]] += timed(steps[pair[1]])
		}
		odd = !odd
	}
	api := [2]time.Duration{took[0], took[2]}
	bare := [2]time.Duration{took[1], took[3]}
	b.ReportMetric(float64(bare[0])/float64(api[0]), "HtoD/bare")
	b.ReportMetric(float64(bare[1])/float64(api[1]), "DtoH/bare")
}

// pairSizes are the sizes of the alloc+free pairs compared with the bare
// pairs beneath, here and on a real GPU (BenchmarkGPUAllocFree).
var pairSizes = []struct {
	name string
	n    int
}{{"256B", 256}, {"1MiB", 1 << 20}}

// membridgePairs are membridge's alloc+free pairs of n bytes under tag: on
// the shared context's default stream (impl=membridge) and on s
// (impl=membridge-stream), both served by the context's cache after the
// first.
func membridgePairs(tag string, s *Stream, n int) []benchround.Case {
	pair := func(alloc func() (*DeviceBuffer, error)) func(b *testing.B) {
		return func(b *testing.B) {
			for b.Loop() {
				d, err := alloc()
				if err != nil {
					b.Fatal(err)
				}
				if err := d.Free(); err != nil {
					b.Fatal(err)
				}
			}
			if err := s.Synchronize(); err != nil {
				b.Fatal(err)
			}
		}
	}
	return []benchround.Case{
		{Name: "impl=membridge", Run: pair(func() (*DeviceBuffer, error) { return shared.Alloc(tag, n) })},
		{Name: "impl=membridge-stream", Run: pair(func() (*DeviceBuffer, error) { return s.Alloc(tag, n) })},
	}
}
