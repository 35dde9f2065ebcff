package native_test

import (
	"fmt"
	"io"
	"testing"

	"github.com/membridge/membridge/native"
	"github.com/membridge/membridge/tracker"
	"github.com/membridge/membridge/tracker/memprofile"
	"github.com/membridge/membridge/tracker/stacks"
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
		}{{"off", 0}, {"sampled", stacks.DefaultSampleRate}} {
			b.Run(fmt.Sprintf("size=%dKiB/mode=%s", size>>10, mode.name), func(b *testing.B) {
				defer tracker.SetStackRate(tracker.SetStackRate(mode.rate))
				defer tracker.SetChecking(tracker.SetChecking(mode.rate == 1))
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
// allocations, each with its stack kept (stack rate 1, the worst case: the
// sampled mode keeps far fewer), made from 1 call site or from 10,000
// distinct ones (10 allocations each). A profile holds one sample per
// distinct stack, so sites=1 writes one sample and sites=10000 the case
// that matters: a program whose allocations come from many places.
func BenchmarkProfileWrite100k(b *testing.B) {
	for _, sites := range []int{1, 10_000} {
		b.Run(fmt.Sprintf("sites=%d", sites), func(b *testing.B) {
			defer tracker.SetStackRate(tracker.SetStackRate(1))
			defer tracker.SetChecking(tracker.SetChecking(true))
			bufs := make([]*native.Buffer, 0, 100_000)
			for i := range 100_000 {
				buf, err := allocAtSite(i%sites, siteBits)
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
			b.ReportAllocs()
			for b.Loop() {
				if err := memprofile.Write(io.Discard); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// siteBits frames make up a site: 2^14 = 16,384 distinct stacks, enough
// for 10,000 sites, and with native.Alloc's own frames within the ledger's
// 32-frame stacks.
const siteBits = 14

// allocAtSite allocates from a call stack that spells site in binary, one
// frame per bit: siteZero and siteOne call on through two distinct call
// instructions each, so every site's return addresses differ.
//
//go:noinline
func allocAtSite(site, bits int) (*native.Buffer, error) {
	if bits == 0 {
		return native.Alloc("bench-profile", 64)
	}
	if site&1 == 0 {
		return siteZero(site>>1, bits-1)
	}
	return siteOne(site>>1, bits-1)
}

//go:noinline
func siteZero(site, bits int) (*native.Buffer, error) {
	if bits == 0 {
		return native.Alloc("bench-profile", 64)
	}
	if site&1 == 0 {
		return siteZero(site>>1, bits-1)
	}
	return siteOne(site>>1, bits-1)
}

//go:noinline
func siteOne(site, bits int) (*native.Buffer, error) {
	if bits == 0 {
		return native.Alloc("bench-profile", 64)
	}
	if site&1 == 0 {
		return siteZero(site>>1, bits-1)
	}
	return siteOne(site>>1, bits-1)
}
