# membridge make targets. Areas add theirs in mk/*.mk.
GO ?= go
# benchstat, pinned, for every make target that compares benchmarks.
BENCHSTAT ?= $(GO) run golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da
PKGS_WITH_C ?= ./internal/mballoc/ ./native/... ./cext/... ./batch/... ./handle/...

.PHONY: test vet fmt-check race asan
test: vet fmt-check race asan

vet:
	$(GO) vet ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

race:
	$(GO) test -race -count=1 ./...

# LeakSanitizer is an oracle independent of the ledger: any C memory left
# unreachable at exit fails the run.
asan:
	LSAN_OPTIONS=suppressions=$(CURDIR)/mk/lsan.supp ASAN_OPTIONS=fast_unwind_on_malloc=0:allocator_may_return_null=1 $(GO) test -asan -count=1 -ldflags='-s=0 -w=0' $(PKGS_WITH_C)

-include mk/*.mk

# The main job, as a user runs it: the example service under load for
# about 20 seconds, then proof that every byte came back. -trimpath: the
# reports name source files by module path, not by this machine's paths.
.PHONY: demo
demo:
	@echo "building the example service (the first build compiles membridge's C with cgo: about a minute)"
	$(GO) build -trimpath -o bin/service ./examples/service
	bin/service -demo -duration 20s

# Minutes of load on the example service: live bytes flat after warm-up,
# RSS within 10% (both judged by the trend after warm-up, so other work on
# the machine does not fail it; the figures judged are logged), no dropped
# handles, nothing left after shutdown; and the leaky variant caught by the
# service's own metrics within a minute.
SOAK ?= 3m
.PHONY: soak
soak:
	MEMBRIDGE_SOAK=$(SOAK) $(GO) test -trimpath -count=1 -timeout 30m -run 'Soak|Leaky' -v ./examples/service
