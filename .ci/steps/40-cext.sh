#!/usr/bin/env bash
# C extensions: the C side of membridge natively, under ThreadSanitizer and
# under valgrind (make memcheck). The per-test LeakSanitizer check of the
# same packages runs in make asan (step 10), the fuzz target of membridge.h's
# operations in step 25. Installs valgrind and zlib1g-dev when absent.
set -euo pipefail
bash .ci/apt-need.sh valgrind valgrind /usr/include/zlib.h zlib1g-dev
make cext-ctest
make cext-tsan
make memcheck
