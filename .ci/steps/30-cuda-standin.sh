#!/usr/bin/env bash
# The cuda-tagged tests, with no GPU: against the stand-in libcuda.so.1
# (cuda/fakecuda), plain, under -race and under -asan (make cuda-test).
# Building the stand-in needs cuda.h, from Debian's non-free CUDA packages;
# the install is skipped when they are there (step 20 may have done it).
set -euo pipefail

bash .ci/install-cuda.sh

make cuda-test
