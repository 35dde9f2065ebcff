package cuda

import (
	"testing"
	"unsafe"
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
