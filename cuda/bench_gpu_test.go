//go:build cuda

package cuda

import (
	"testing"

	"github.com/membridge/membridge/cuda/fakecuda"
	"github.com/membridge/membridge/internal/benchround"
)

// BenchmarkGPUAllocFree is a device alloc+free pair of one size on one
// stream on a real GPU (make gpu-test): membridge's on the default stream
// and on a stream (served by the context's cache after the first pair)
// against the driver's plain pair (cuMemAlloc+cuMemFree) and its
// stream-ordered pair on the device's pool (cuMemAllocAsync+cuMemFreeAsync,
// which the pool serves without the device after the first). It skips on
// the stand-in driver, whose costs are not a GPU's (make cuda-bench has the
// stand-in's rows).
func BenchmarkGPUAllocFree(b *testing.B) {
	if fakecuda.Active() {
		b.Skip("the stand-in driver is not a GPU: see make cuda-bench")
	}
	for _, size := range pairSizes {
		b.Run("size="+size.name, func(b *testing.B) {
			n := size.n
			s, err := shared.NewStream()
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			cases := append([]benchround.Case{
				{Name: "impl=cuMemAlloc", Run: func(b *testing.B) {
					for b.Loop() {
						p, err := drvAlloc(shared.h, n, false)
						if err != nil {
							b.Fatal(err)
						}
						if err := drvFree(shared.h, p, n); err != nil {
							b.Fatal(err)
						}
					}
				}},
			}, membridgePairs("bench/gpu-alloc", s, n)...)
			if shared.pool != 0 {
				cases = append(cases, benchround.Case{Name: "impl=cuMemAllocAsync", Run: func(b *testing.B) {
					for b.Loop() {
						p, err := drvAllocAsync(shared.h, shared.pool, n, false, s.h)
						if err != nil {
							b.Fatal(err)
						}
						if err := drvFreeAsync(shared.h, p, n, s.h); err != nil {
							b.Fatal(err)
						}
					}
					if err := drvStreamSync(shared.h, s.h); err != nil {
						b.Fatal(err)
					}
				}})
			}
			benchround.Run(b, cases)
			if _, err := shared.EmptyCache(); err != nil {
				b.Fatal(err)
			}
		})
	}
}
