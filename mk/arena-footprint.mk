# Arenas and the large-buffer footprint.
#
# `make arena-bench` times a 64 B arena allocation side by side with a bare
# bump pointer over one C slab, a cgo malloc+free pair, ristretto v2's
# z.Allocator and Go's new with a 64 MiB live heap (bench/arena), in
# interleaved rounds so machine load falls on all alike.
# `make footprint` runs the 2 GiB footprint experiment (bench/cmd/footprint);
# `make footprint-smoke` a small one that fails if membridge's large-buffer
# path peaks over 1.1x the live bytes.
ARENA_BENCH_COUNT ?= 6
ARENA_BENCH_OUT ?= $(CURDIR)/bin/bench/arena.txt
ARENA_BENCH_BIN ?= $(CURDIR)/bin/bench/arena.test
ARENA_BENCHSTAT ?= $(GO) run golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da

.PHONY: arena-bench footprint footprint-smoke
arena-bench:
	@mkdir -p $(dir $(ARENA_BENCH_OUT)) $(dir $(ARENA_BENCH_BIN))
	cd bench && $(GO) test -c -o $(ARENA_BENCH_BIN) ./arena
	rm -f $(ARENA_BENCH_OUT); for i in $$(seq $(ARENA_BENCH_COUNT)); do \
		$(ARENA_BENCH_BIN) -test.run '^$$' -test.bench Alloc64 -test.count 1 >> $(ARENA_BENCH_OUT) || { cat $(ARENA_BENCH_OUT); exit 1; }; \
	done
	$(ARENA_BENCHSTAT) -col /impl $(ARENA_BENCH_OUT)

footprint:
	cd bench && $(GO) run ./cmd/footprint -max-membridge-ratio 1.1

footprint-smoke:
	cd bench && $(GO) run ./cmd/footprint -live 128MiB -rounds 5 -modes malloc,membridge -max-membridge-ratio 1.1
