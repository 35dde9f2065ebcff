//go:build cuda

package cuda

import (
	"runtime"
	"testing"
	"unsafe"

	"gorgonia.org/cu"
)

// BenchmarkVersusGorgonia times membridge's calls against the bare
// gorgonia.org/cu calls they replace, in one run: gorgonia's on a goroutine
// locked to its thread with the primary context current (its fastest use),
// membridge's from any goroutine (the context pushed and popped inside one
// cgo call), ledger accounting and safety net included.
func BenchmarkVersusGorgonia(b *testing.B) {
	dev := cu.Device(0)
	ctx, err := dev.RetainPrimaryCtx()
	if err != nil {
		b.Fatal(err)
	}
	defer dev.ReleasePrimaryCtx()
	locked := func(b *testing.B, body func(b *testing.B)) {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cu.SetCurrentContext(ctx); err != nil {
			b.Fatal(err)
		}
		defer cu.SetCurrentContext(cu.CUContext{})
		body(b)
	}

	b.Run("op=alloc-free/impl=gorgonia", func(b *testing.B) {
		locked(b, func(b *testing.B) {
			for b.Loop() {
				p, err := cu.MemAlloc(256)
				if err != nil {
					b.Fatal(err)
				}
				if err := cu.MemFree(p); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
	b.Run("op=alloc-free/impl=membridge", func(b *testing.B) {
		for b.Loop() {
			d, err := shared.Alloc("bench/versus", 256)
			if err != nil {
				b.Fatal(err)
			}
			if err := d.Free(); err != nil {
				b.Fatal(err)
			}
		}
	})

	srcs, err := builtinModules(shared.dev.Major, shared.dev.Minor)
	if err != nil {
		b.Fatal(err)
	}
	x, err := AllocSliceZeroed[float32](shared, "bench/versus", 256)
	if err != nil {
		b.Fatal(err)
	}
	defer x.Free()
	xp, _ := x.buf.DevicePtr()
	b.Run("op=launch/impl=gorgonia", func(b *testing.B) {
		locked(b, func(b *testing.B) {
			var fn cu.Function
			var mod cu.Module
			for _, src := range srcs {
				m, err := cu.LoadData(src)
				if err != nil {
					b.Fatal(err)
				}
				if f, err := m.Function("mb_scale_f32"); err == nil {
					fn, mod = f, m
				} else {
					m.Unload()
				}
			}
			defer mod.Unload()
			// gorgonia reads 8 bytes from every parameter: 8-byte slots.
			slots := []uint64{uint64(xp), uint64(xp), uint64(0x3f800000), 256}
			params := []unsafe.Pointer{unsafe.Pointer(&slots[0]), unsafe.Pointer(&slots[1]), unsafe.Pointer(&slots[2]), unsafe.Pointer(&slots[3])}
			for b.Loop() {
				if err := fn.Launch(1, 1, 1, 256, 1, 1, 0, cu.NoStream, params); err != nil {
					b.Fatal(err)
				}
			}
			if err := cu.Synchronize(); err != nil {
				b.Fatal(err)
			}
		})
	})
	f, err := shared.BuiltinFunction("mb_scale_f32")
	if err != nil {
		b.Fatal(err)
	}
	b.Run("op=launch/impl=membridge", func(b *testing.B) {
		s := shared.DefaultStream()
		cfg := LaunchConfig{Grid: Dim3{X: 1}, Block: Dim3{X: 256}}
		for b.Loop() {
			if err := f.Launch(s, cfg, x, x, float32(1), uint64(256)); err != nil {
				b.Fatal(err)
			}
		}
		if err := s.Synchronize(); err != nil {
			b.Fatal(err)
		}
	})
}
