# Seeing native memory: the example that makes the screenshots in
# docs/observability.md (examples/observe), and the benchmarks behind the
# observability speed targets.
# observe-bench interleaves its rounds (every benchmark once, then again),
# like bench.mk, so load from other work falls on both modes alike.
OBSERVE_OUT ?= $(CURDIR)/bin/observe
OBSERVE_BENCH_OUT ?= $(CURDIR)/bin/bench/observe

.PHONY: observe-demo observe-bench
observe-demo:
	$(GO) run ./examples/observe -out $(OBSERVE_OUT)
	@echo "then: $(GO) tool pprof -http=127.0.0.1:8089 -tagroot=kind $(OBSERVE_OUT)/profile.pb.gz"

observe-bench:
	@mkdir -p $(dir $(OBSERVE_BENCH_OUT))
	$(GO) test -c -o $(OBSERVE_BENCH_OUT)-native.test ./native
	cd bench && $(GO) test -c -o $(OBSERVE_BENCH_OUT)-alloc.test ./alloc
	rm -f $(OBSERVE_BENCH_OUT)-alloc.txt $(OBSERVE_BENCH_OUT)-native.txt
	for i in $$(seq $(BENCH_COUNT)); do \
		(cd bench/alloc && $(OBSERVE_BENCH_OUT)-alloc.test -test.run '^$$' -test.bench 'AllocFree/size=(4096|1048576)/impl=membridge-(off|sampled)$$' -test.count 1) >> $(OBSERVE_BENCH_OUT)-alloc.txt || exit 1; \
		(cd native && $(OBSERVE_BENCH_OUT)-native.test -test.run '^$$' -test.bench 'ObserveAllocFree|ProfileWrite100k' -test.benchmem -test.count 1) >> $(OBSERVE_BENCH_OUT)-native.txt || exit 1; \
	done
	$(BENCHSTAT) -col /impl $(OBSERVE_BENCH_OUT)-alloc.txt
	$(BENCHSTAT) -col /mode $(OBSERVE_BENCH_OUT)-native.txt
