package main

import "fmt"

var allocImpls = []string{"cgo", "gomake", "membridge-off", "membridge-sampled", "membridge-all",
	"membridge-all-depth1", "arrow-mallocator", "arrow-checked", "ristretto-z"}

func allocCases() []string {
	var cs []string
	for _, s := range []int{64, 4096, 1048576} {
		for _, im := range allocImpls {
			cs = append(cs, fmt.Sprintf("AllocFree/size=%d/impl=%s", s, im))
		}
	}
	return cs
}

func alloc(size int, impl string) string { return fmt.Sprintf("AllocFree/size=%d/impl=%s", size, impl) }

var sizeName = map[int]string{64: "64 B", 4096: "4 KiB", 1048576: "1 MiB"}

func allocRatios() []ratio {
	var rs []ratio
	for _, unit := range []string{"cpu-ns/op", "ns/op"} {
		time := map[string]string{"cpu-ns/op": "CPU", "ns/op": "wall"}[unit]
		for _, s := range []int{64, 4096} {
			rs = append(rs,
				ratio{claim: fmt.Sprintf("%s, %s time: sampled (the default) / arrow's Mallocator", sizeName[s], time),
					num: alloc(s, "membridge-sampled"), den: alloc(s, "arrow-mallocator"), unit: unit, op: "<", limit: 1,
					target: "< 1× (faster)"},
				ratio{claim: fmt.Sprintf("%s, %s time: sampled / the bare cgo pair", sizeName[s], time),
					num: alloc(s, "membridge-sampled"), den: alloc(s, "cgo"), unit: unit, op: "<=", limit: 1,
					target: "≤ 1× (no slower than untracked)"})
		}
		for _, s := range []int{64, 4096, 1048576} {
			rs = append(rs, ratio{claim: fmt.Sprintf("%s, %s time: arrow's CheckedAllocator / the all mode at its stack depth", sizeName[s], time),
				num: alloc(s, "arrow-checked"), den: alloc(s, "membridge-all-depth1"), unit: unit, op: ">=", limit: 2,
				target: "≥ 2× (all is twice as fast)"})
		}
	}
	return rs
}

func observeRatios() []ratio {
	var rs []ratio
	for _, unit := range []string{"cpu-ns/op", "ns/op"} {
		time := map[string]string{"cpu-ns/op": "CPU", "ns/op": "wall"}[unit]
		for _, s := range []int{4096, 1048576} {
			rs = append(rs, ratio{claim: fmt.Sprintf("%s, %s time: sampled / off (the cost of keeping stacks)", sizeName[s], time),
				num: alloc(s, "membridge-sampled"), den: alloc(s, "membridge-off"), unit: unit, op: "<=", limit: 1.1,
				target: "≤ 1.1× (within 10%)"})
		}
	}
	return rs
}

func cextCases() ([]string, []ratio) {
	var cs []string
	var rs []ratio
	for _, p := range []string{"pair", "batch"} {
		for _, s := range []int{16, 64, 256, 1000, 1024, 4096, 16384} {
			k := fmt.Sprintf("Cext/pattern=%s/size=%d/impl=", p, s)
			cs = append(cs, k+"libc", k+"membridge")
			rs = append(rs, ratio{claim: fmt.Sprintf("%s, %d B: membridge_malloc+free / malloc+free", p, s),
				num: k + "membridge", den: k + "libc", unit: "ns/op", op: "<=", limit: 1.3})
		}
	}
	return cs, rs
}

var figures = func() []*figure {
	cextC, cextR := cextCases()
	return []*figure{
		{
			name: "alloc", doc: "docs/speed.md", title: "alloc+free", command: "make figures",
			input: "alloc.txt",
			values: []valueTable{{units: []string{"cpu-ns/op", "ns/op", "allocs/op"},
				labels: []string{"process CPU time", "wall time", "Go allocs"}, cases: allocCases()}},
			ratios: allocRatios(),
			note: "Each case runs beside a 64 MiB live Go heap. CPU time is the whole process's (the collector's work on the other core included, " +
				"waiting for a core excluded); wall time counts waiting. The target over the bare cgo pair is a ratio " +
				"to the pair measured in the same round, since the pair's own time moves between rounds (its min and max above).",
		},
		{
			name: "observe", doc: "docs/observability.md", title: "observability", command: "make figures",
			input: "alloc.txt", ratios: observeRatios(),
			note: "From the same run as docs/figures/alloc.md (`BenchmarkAllocFree` in bench/alloc, outside the ledger's test mode).",
		},
		{
			name: "profile", doc: "docs/observability.md", title: "writing a pprof profile", command: "make figures",
			input: "profile.txt",
			values: []valueTable{{units: []string{"ns/op", "allocs/op", "B/op"},
				labels: []string{"time per profile", "Go allocs", "Go bytes"},
				cases:  []string{"ProfileWrite100k/sites=1", "ProfileWrite100k/sites=10000"}}},
			ratios: []ratio{
				{claim: "a profile of 100,000 live allocations from 10,000 sites", num: "ProfileWrite100k/sites=10000", unit: "ns/op", abs: true, op: "<", limit: 1e9, target: "< 1 s"},
				{claim: "the same from 1 site (a one-sample profile)", num: "ProfileWrite100k/sites=1", unit: "ns/op", abs: true, op: "<", limit: 1e9, target: "< 1 s"},
			},
			note: "100,000 live allocations, every stack kept (stack rate 1, the worst case), from 1 call site or from 10,000 distinct ones " +
				"(10 each: a profile holds one sample per distinct stack). Each round is one `-test.count` run of 5 writes. Measured in the ledger's test mode " +
				"(package native's tests), where making the allocations costs more, writing the profile does not.",
		},
		{
			name: "arena", doc: "docs/arenas-budgets-cache.md", title: "arena, 64 B", command: "make figures",
			input: "arena.txt",
			values: []valueTable{{units: []string{"ns/op"}, labels: []string{"wall time"},
				cases: []string{"Alloc64/impl=bump", "Alloc64/impl=bump-call", "Alloc64/impl=arena", "Alloc64/impl=arena-try",
					"Alloc64/impl=ristretto-z", "Alloc64/impl=go-new", "Alloc64/impl=cgo-malloc-free"}}},
			ratios: []ratio{
				{claim: "`TryAlloc` / a bare bump pointer (inlined)", num: "Alloc64/impl=arena-try", den: "Alloc64/impl=bump", unit: "ns/op", op: "<=", limit: 2},
				{claim: "`Alloc` / a bare bump pointer (inlined)", num: "Alloc64/impl=arena", den: "Alloc64/impl=bump", unit: "ns/op", op: "<=", limit: 2},
				{claim: "a bump pointer behind a call / inlined", num: "Alloc64/impl=bump-call", den: "Alloc64/impl=bump", unit: "ns/op"},
				{claim: "a cgo malloc+free pair / `TryAlloc`", num: "Alloc64/impl=cgo-malloc-free", den: "Alloc64/impl=arena-try", unit: "ns/op", op: ">=", limit: 20},
				{claim: "ristretto v2 `z.Allocator` / `TryAlloc`", num: "Alloc64/impl=ristretto-z", den: "Alloc64/impl=arena-try", unit: "ns/op", op: ">", limit: 1, target: "> 1× (arena faster)"},
				{claim: "Go `new`, 64 MiB live heap / `TryAlloc`", num: "Alloc64/impl=go-new", den: "Alloc64/impl=arena-try", unit: "ns/op", op: ">", limit: 1, target: "> 1× (arena faster)"},
			},
		},
		{
			name: "cext", doc: "docs/c-extensions.md", title: "C: membridge.h", command: "make figures",
			input:  "cext.txt",
			values: []valueTable{{units: []string{"ns/op"}, labels: []string{"ns per allocation and free, best run of the round"}, cases: cextC}},
			ratios: cextR,
			note: "Each round is one run of `bin/cext/test_membridge bench lines 25`: the best of 25 interleaved runs of 102,400 operations per side, " +
				"libc first in even runs and membridge first in odd ones. \"pair\" allocates and frees at once (glibc's fastest path); " +
				"\"batch\" allocates 64 blocks, then frees them. Blocks up to 16 KiB come from membridge's own size classes, each block's " +
				"state a word beside its span, changed by one compare-and-swap at free, so every double free still aborts ([how](c-extensions.md#speed)).",
		},
		{
			name: "batch", doc: "docs/c-extensions.md", title: "the batch extension", command: "make figures",
			input: "batch.txt",
			values: []valueTable{{units: []string{"ns/op", "MB/s"}, labels: []string{"time per batch", "MB/s"},
				cases: []string{"Filter/Filter", "Filter/Process"}}},
		},
		{
			name: "handle", doc: "docs/c-extensions.md", title: "handle round trip", command: "make figures",
			input: "handle.txt",
			values: []valueTable{{units: []string{"cpu-ns/op", "ns/op"}, labels: []string{"thread CPU time", "wall time"},
				cases: []string{"RoundTrip/through-C/handle.New", "RoundTrip/through-C/handle.NewWeak", "RoundTrip/through-C/cgo.Handle",
					"RoundTrip/Go-only/handle.New", "RoundTrip/Go-only/cgo.Handle"}}},
			ratios: []ratio{
				{claim: "through C: `handle.New` / `cgo.Handle` (thread CPU time)", num: "RoundTrip/through-C/handle.New", den: "RoundTrip/through-C/cgo.Handle", unit: "cpu-ns/op"},
				{claim: "through C: `handle.NewWeak` / `cgo.Handle` (thread CPU time)", num: "RoundTrip/through-C/handle.NewWeak", den: "RoundTrip/through-C/cgo.Handle", unit: "cpu-ns/op"},
				{claim: "Go only: `handle.New` / `cgo.Handle` (thread CPU time)", num: "RoundTrip/Go-only/handle.New", den: "RoundTrip/Go-only/cgo.Handle", unit: "cpu-ns/op"},
			},
		},
		{
			name: "standin", doc: "docs/cuda.md", title: "CUDA on the stand-in driver", command: "make figures",
			input: "standin.txt",
			values: []valueTable{{units: []string{"ns/op", "allocs/op", "B/op"}, labels: []string{"wall time", "Go allocs", "Go bytes"},
				cases: []string{"AllocFree/impl=gorgonia", "AllocFree/impl=ledger", "AllocFree/impl=membridge",
					"AllocFreeOnStream/size=256B/impl=gorgonia", "AllocFreeOnStream/size=256B/impl=membridge", "AllocFreeOnStream/size=256B/impl=membridge-stream",
					"AllocFreeOnStream/size=1MiB/impl=gorgonia", "AllocFreeOnStream/size=1MiB/impl=membridge", "AllocFreeOnStream/size=1MiB/impl=membridge-stream",
					"Launch/impl=gorgonia", "Launch/impl=membridge"}}},
			ratios: []ratio{
				{claim: "device alloc+free (256 B): membridge / bare gorgonia on a locked thread", num: "AllocFree/impl=membridge", den: "AllocFree/impl=gorgonia", unit: "ns/op", op: "<=", limit: 1},
				{claim: "256 B on one stream (`Stream.Alloc`), cached: membridge / bare gorgonia", num: "AllocFreeOnStream/size=256B/impl=membridge-stream", den: "AllocFreeOnStream/size=256B/impl=gorgonia", unit: "ns/op", op: "<=", limit: 1},
				{claim: "1 MiB on one stream (`Stream.Alloc`), cached: membridge / bare gorgonia", num: "AllocFreeOnStream/size=1MiB/impl=membridge-stream", den: "AllocFreeOnStream/size=1MiB/impl=gorgonia", unit: "ns/op", op: "<=", limit: 1},
				{claim: "the ledger alone (no driver call) / the same bare pair", num: "AllocFree/impl=ledger", den: "AllocFree/impl=gorgonia", unit: "ns/op", target: "none (what the ledger takes of the pair)"},
				{claim: "kernel launch (4 arguments): membridge / bare gorgonia", num: "Launch/impl=membridge", den: "Launch/impl=gorgonia", unit: "ns/op", op: "<=", limit: 1.5},
			},
			note: "The stand-in driver (cuda/fakecuda) does no device work beyond filling fresh memory, so these measure what membridge adds to, or saves of, the driver's calls, not a GPU. The same comparisons on a real GPU, against cuMemAlloc+cuMemFree and cuMemAllocAsync+cuMemFreeAsync, are in make gpu-test; they have not been measured: no GPU was available.",
		},
		{
			name: "cudahost", doc: "docs/cuda.md", title: "CUDA host backend", command: "make figures",
			input: "cudahost.txt",
			values: []valueTable{{units: []string{"ns/op", "allocs/op"}, labels: []string{"wall time", "Go allocs"},
				cases: []string{"AllocFree/impl=plain", "AllocFree/impl=stream-ordered",
					"AllocFreeVersusBare/size=256B/impl=bare", "AllocFreeVersusBare/size=256B/impl=membridge", "AllocFreeVersusBare/size=256B/impl=membridge-stream",
					"AllocFreeVersusBare/size=1MiB/impl=bare", "AllocFreeVersusBare/size=1MiB/impl=membridge", "AllocFreeVersusBare/size=1MiB/impl=membridge-stream",
					"Launch/impl=Function.Launch", "Launch/impl=Scale"}}},
			ratios: []ratio{
				{claim: "device alloc+free 256 B, cached: membridge / the backend's bare C heap pair", num: "AllocFreeVersusBare/size=256B/impl=membridge", den: "AllocFreeVersusBare/size=256B/impl=bare", unit: "ns/op", op: "<=", limit: 1},
				{claim: "device alloc+free 1 MiB, cached: membridge / the backend's bare C heap pair", num: "AllocFreeVersusBare/size=1MiB/impl=membridge", den: "AllocFreeVersusBare/size=1MiB/impl=bare", unit: "ns/op", op: "<=", limit: 1},
				{claim: "`CopyHtoD` of 256 MiB: speed / C `memcpy` of the same bytes", num: "Copy256MiBPaired", unit: "HtoD/bare", op: ">=", limit: 0.8},
				{claim: "`CopyDtoH` of 256 MiB: speed / C `memcpy`", num: "Copy256MiBPaired", unit: "DtoH/bare", op: ">=", limit: 0.8},
			},
			note: "The host backend runs in C heap memory, emulating a device; the copies are paired with a bare memcpy in every iteration, the order alternating.",
		},
	}
}()
