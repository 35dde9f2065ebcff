# CUDA kernels and the real-GPU run of package cuda.

# Package cuda's host backend has C too: LeakSanitizer checks it in make asan.
PKGS_WITH_C += ./cuda/ ./cuda/internal/refkernels/

.PHONY: ptx gpu-test

# Regenerate the committed PTX from cuda/kernels/*.cu (needs nvcc); CI
# (.ci/steps/20-cuda-ptx.sh) fails when the committed files are stale.
ptx:
	sh cuda/kernels/gen.sh

# On a machine with an NVIDIA GPU and its driver: the cuda-tagged tests
# against the real driver (the kernels checked bit for bit against their C
# references on fresh random inputs, outputs poisoned before each launch,
# repeated GPU_TEST_ROUNDS times with new seeds), then the benchmarks, whose
# numbers are the GPU figures docs/cuda.md asks for. Among them,
# BenchmarkGPUAllocFree sets membridge's alloc+free pairs (served by the
# context's cache of freed memory) against cuMemAlloc+cuMemFree and
# cuMemAllocAsync+cuMemFreeAsync on the device's pool; it skips on the
# stand-in, where make cuda-bench has the same comparison. The example service's
# tests run on the GPU too; `go run -tags cuda ./examples/service -demo` is
# the demo on it.
GPU_TEST_ROUNDS ?= 5
GPU_BENCH_COUNT ?= 6
GPU_BENCH_OUT ?= $(CURDIR)/bin/bench/gpu.txt

gpu-test:
	nvidia-smi -L || true
	@mkdir -p $(dir $(GPU_BENCH_OUT))
	$(GO) vet -tags cuda ./cuda/
	$(GO) test -tags cuda -count=1 -v -run 'TestDevices' ./cuda/
	$(GO) test -tags cuda -count=1 ./cuda/ ./cuda/kernels/ ./cuda/internal/refkernels/ ./examples/service/
	$(GO) test -tags cuda -count=$(GPU_TEST_ROUNDS) -v -run 'TestKernelsMatchReference|TestKernelVectors' ./cuda/
	$(GO) test -tags cuda -race -count=1 ./cuda/
	$(GO) test -tags cuda -count=$(GPU_BENCH_COUNT) -run '^$$' -bench . ./cuda/ | tee $(GPU_BENCH_OUT)
	$(BENCHSTAT) -col /impl $(GPU_BENCH_OUT)
