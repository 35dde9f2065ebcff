# Seeing native memory (issue 6): the demo that makes the README's
# screenshots, and the benchmarks behind the observability speed targets.
OBSERVE_OUT ?= /tmp/membridge-demo
OBSERVE_BENCH_OUT ?= /tmp/membridge-bench-observe.txt

.PHONY: observe-demo observe-bench
observe-demo:
	$(GO) run ./tracker/debughttp/internal/demo -out $(OBSERVE_OUT)
	@echo "then: $(GO) tool pprof -http=127.0.0.1:8089 -tagroot=kind $(OBSERVE_OUT)/profile.pb.gz"

observe-bench:
	$(GO) test -run '^$$' -bench 'ObserveAllocFree|ProfileWrite100k' -count 6 ./native | tee $(OBSERVE_BENCH_OUT)
	$(BENCHSTAT) -col /mode $(OBSERVE_BENCH_OUT)
