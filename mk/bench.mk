# Speed of the foundation side by side with the alternatives.
# The benchmarks live in the separate bench module, so the library never
# requires arrow-go or ristretto. `make bench` runs them once, -count times,
# and prints benchstat's view (allocators as columns, with the noise) and
# the ratio table of docs/speed.md with the targets checked.
#
# The rounds are interleaved (every allocator once, then again) rather than
# -count in a row, so that load from other work on the machine falls on all
# allocators alike and the ratios within the run stay meaningful.
BENCH_COUNT ?= 6
BENCH_OUT ?= $(CURDIR)/bin/bench/alloc.txt
BENCH_BIN ?= $(CURDIR)/bin/bench/alloc.test

.PHONY: bench bench-parts bench-tools-test
bench:
	@mkdir -p $(dir $(BENCH_OUT)) $(dir $(BENCH_BIN))
	cd bench && $(GO) test -c -o $(BENCH_BIN) ./alloc
	rm -f $(BENCH_OUT); for i in $$(seq $(BENCH_COUNT)); do \
		$(BENCH_BIN) -test.run '^$$' -test.bench AllocFree -test.count 1 >> $(BENCH_OUT) || { cat $(BENCH_OUT); exit 1; }; \
	done
	$(BENCHSTAT) -col /impl $(BENCH_OUT)
	cd bench && $(GO) run ./cmd/benchtable < $(BENCH_OUT)

# The operations an Alloc+Free pair is made of, timed one by one.
bench-parts:
	@mkdir -p $(dir $(BENCH_OUT))
	cd bench && $(GO) test -run '^$$' -bench Part -count $(BENCH_COUNT) ./alloc > $(BENCH_OUT).parts || { cat $(BENCH_OUT).parts; exit 1; }
	$(BENCHSTAT) $(BENCH_OUT).parts

# The unit tests of the bench module's commands (bench/cmd/figures, which
# writes every figure in the docs, among them): make test covers the root
# module only. CI runs them in step 45, beside the footprint smoke run.
bench-tools-test:
	cd bench && $(GO) test -count=1 ./cmd/...
