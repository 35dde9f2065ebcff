# The stand-in CUDA driver (cuda/fakecuda) and the cuda-tagged tests run
# against it: `make cuda-test` needs cuda.h (nvidia-cuda-dev), no GPU.

FAKECUDA_BUILD := $(CURDIR)/cuda/fakecuda/build
# Link against the stand-in and load it; the cuda-tagged tests fail, rather
# than skip, when the loaded driver is not the stand-in.
FAKECUDA_ENV := CGO_LDFLAGS=-L$(FAKECUDA_BUILD) LD_LIBRARY_PATH=$(FAKECUDA_BUILD) MEMBRIDGE_FAKECUDA=1
CUDA_TEST_PKGS = $(shell cuda/fakecuda/cuda-packages.sh)

.PHONY: cuda-standin cuda-test cuda-bench

# Bootstrap the library with stubs for all of cuda.h, link the cuda-tagged
# test binaries against it, then rebuild it with stubs for exactly the
# driver symbols those binaries reference.
cuda-standin:
	cuda/fakecuda/cuda-packages.sh --check
	cuda/fakecuda/driver/build.sh $(FAKECUDA_BUILD)
	rm -rf $(FAKECUDA_BUILD)/bin
	CGO_LDFLAGS=-L$(FAKECUDA_BUILD) $(GO) test -tags cuda -c -o $(FAKECUDA_BUILD)/bin/ $(CUDA_TEST_PKGS)
	cuda/fakecuda/driver/build.sh $(FAKECUDA_BUILD) $(FAKECUDA_BUILD)/bin/*.test
	SANITIZE=address cuda/fakecuda/driver/build.sh $(FAKECUDA_BUILD)/asan $(FAKECUDA_BUILD)/bin/*.test
	NO_API=1 cuda/fakecuda/driver/build.sh $(FAKECUDA_BUILD)/noapi $(FAKECUDA_BUILD)/bin/*.test

# -count=1 always: the test cache ignores LD_LIBRARY_PATH and the library.
# The -asan run loads the stand-in built under AddressSanitizer too. First,
# the stand-in's own test binary runs on a driver without the stand-in's
# interface, as it would on NVIDIA's: no counters, no kernels registered,
# every test must skip.
cuda-test: cuda-standin
	$(FAKECUDA_ENV) $(GO) vet -tags cuda $(CUDA_TEST_PKGS)
	LD_LIBRARY_PATH=$(FAKECUDA_BUILD)/noapi $(FAKECUDA_BUILD)/bin/fakecuda.test -test.count=1 -test.v 2>&1 | \
		awk '/^--- FAIL/ { bad = 1 } /^--- PASS: Test/ { bad = 1; print "ran on a driver without the stand-in interface:", $$0 } /^(PASS|FAIL)$$/ { end = $$0 } END { exit bad || end != "PASS" }'
	$(FAKECUDA_ENV) $(GO) test -tags cuda -count=1 $(CUDA_TEST_PKGS)
	$(FAKECUDA_ENV) $(GO) test -tags cuda -race -count=1 $(CUDA_TEST_PKGS)
	$(FAKECUDA_ENV) LD_LIBRARY_PATH=$(FAKECUDA_BUILD)/asan LSAN_OPTIONS=suppressions=$(CURDIR)/mk/lsan.supp ASAN_OPTIONS=fast_unwind_on_malloc=0:allocator_may_return_null=1 $(GO) test -tags cuda -asan -count=1 -ldflags='-s=0 -w=0' $(CUDA_TEST_PKGS)

# What membridge's cuda package adds to the driver calls, side by side with
# bare gorgonia.org/cu calls in one run (docs/cuda-without-gpu.md). Rounds
# are interleaved so load from other work falls on both alike.
CUDA_BENCH_COUNT ?= 6
CUDA_BENCH_OUT ?= $(CURDIR)/bin/bench/standin.txt
CUDA_BENCH_BIN ?= $(CURDIR)/bin/bench/standin.test

cuda-bench: cuda-standin
	@mkdir -p $(dir $(CUDA_BENCH_OUT)) $(dir $(CUDA_BENCH_BIN))
	$(FAKECUDA_ENV) $(GO) test -tags cuda -c -o $(CUDA_BENCH_BIN) ./cuda/fakecuda/overhead
	rm -f $(CUDA_BENCH_OUT); for i in $$(seq $(CUDA_BENCH_COUNT)); do \
		LD_LIBRARY_PATH=$(FAKECUDA_BUILD) $(CUDA_BENCH_BIN) -test.run '^$$' -test.bench . -test.count 1 >> $(CUDA_BENCH_OUT) || { cat $(CUDA_BENCH_OUT); exit 1; }; \
	done
	$(BENCHSTAT) -col /impl $(CUDA_BENCH_OUT)

# A user's module on the stand-in: a fresh module requiring this checkout
# runs the steps docs/cuda-without-gpu.md gives users (fakecuda env, then
# go test -tags cuda), which must pass, and must report a planted device
# leak (cmd/fakecuda's TestUserModule, bounded at 8 minutes).
.PHONY: user-module-test
user-module-test:
	MEMBRIDGE_USER_MODULE_TEST=1 $(GO) test -count=1 -timeout 10m -run '^TestUserModule$$' -v ./cmd/fakecuda
