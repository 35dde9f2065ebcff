#!/usr/bin/env bash
# C extensions: the C side of membridge natively, under ThreadSanitizer and
# under valgrind (make memcheck), and a bounded run of the fuzz target of
# membridge.h's operations. The
# per-test LeakSanitizer check of the same packages runs in make asan
# (step 10). Installs valgrind and zlib1g-dev when absent.
set -euo pipefail
need=()
command -v valgrind >/dev/null || need+=(valgrind)
[ -f /usr/include/zlib.h ] || need+=(zlib1g-dev)
if [ "${#need[@]}" -gt 0 ]; then
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
make cext-ctest
make cext-tsan
make memcheck
