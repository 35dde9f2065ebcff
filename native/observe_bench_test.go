package native_test

import (
	"fmt"
	"io"
	"testing"

	"github.com/membridge/membridge/native"
	"github.com/membridge/membridge/tracker"
	"github.com/membridge/membridge/tracker/memprofile"
)

// BenchmarkObserveAllocFree compares alloc+free with the ledger keeping no
// stacks (off) and sampling them (the default), with the observers of
// issue 6 compiled in: the hooks in the ledger, and the per-site totals
// that importing memprofile turns on.
//
// This package's tests run in the ledger's test mode (VerifyTestMain),
// where every reservation also formats its goroutine's stack so that leaks
// are blamed on the right test. That costs more than the allocation itself,
// so the difference between the modes drowns here. The speed target
// (sampled within 10% of off for 4 KiB and larger) is checked with
// bench/alloc's BenchmarkAllocFree (membridge-off against
// membridge-sampled), which runs outside the test mode. Both are run side
// by side by `make observe-bench`.
func BenchmarkObserveAllocFree(b *testing.B) {
	for _, size := range []int{4 << 10, 1 << 20} {
		for _, mode := range []struct {
			name string
			rate int64
		}{{"off", 0}, {"sampled", tracker.DefaultSampleRate}} {
			b.Run(fmt.Sprintf("size=%dKiB/mode=%s", size>>10, mode.name), func(b *testing.B) {
				defer tracker.SetStackRate(tracker.SetStackRate(mode.rate))
				b.SetBytes(int64(size))
				for b.Loop() {
					buf, err := native.Alloc("bench-observe", size)
					if err != nil {
						b.Fatal(err)
					}
					buf.Free()
				}
			})
		}
	}
}

// BenchmarkProfileWrite100k writes a pprof profile of 100,000 live
// allocations, each with its own stack kept (stack rate 1, the worst case:
// the sampled mode keeps far fewer).
func BenchmarkProfileWrite100k(b *testing.B) {
	defer tracker.SetStackRate(tracker.SetStackRate(1))
	bufs := make([]*native.Buffer, 0, 100_000)
	for range 100_000 {
		buf, err := native.Alloc("bench-profile", 64)
		if err != nil {
			b.Fatal(err)
		}
		bufs = append(bufs, buf)
	}
	defer func() {
		for _, buf := range bufs {
			buf.Free()
		}
	}()
	for b.Loop() {
		if err := memprofile.Write(io.Discard); err != nil {
			b.Fatal(err)
		}
	}
}
