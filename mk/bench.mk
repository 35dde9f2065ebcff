# Speed of the foundation side by side with the alternatives (issue 2).
# The benchmarks live in the separate bench module, so the library never
# requires arrow-go or ristretto. `make bench` runs them once, -count times,
# and prints benchstat's view (allocators as columns, with the noise) and
# the ratio table of docs/readme-bench.md with the targets checked.
BENCH_COUNT ?= 6
BENCH_OUT ?= /tmp/membridge-bench-alloc.txt
BENCHSTAT ?= $(GO) run golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da

.PHONY: bench bench-parts
bench:
	cd bench && $(GO) test -run '^$$' -bench AllocFree -count $(BENCH_COUNT) -timeout 60m ./alloc > $(BENCH_OUT) || { cat $(BENCH_OUT); exit 1; }
	$(BENCHSTAT) -col /impl $(BENCH_OUT)
	cd bench && $(GO) run ./cmd/benchtable < $(BENCH_OUT)

# The operations an Alloc+Free pair is made of, timed one by one.
bench-parts:
	cd bench && $(GO) test -run '^$$' -bench Part -count $(BENCH_COUNT) ./alloc > $(BENCH_OUT).parts || { cat $(BENCH_OUT).parts; exit 1; }
	$(BENCHSTAT) $(BENCH_OUT).parts
