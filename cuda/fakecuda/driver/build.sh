#!/usr/bin/env bash
# build.sh: builds the stand-in CUDA driver (driver.c plus generated
# stubs) as BUILD/libcuda.so.1, with the libcuda.so link that -lcuda needs.
#
#   build.sh BUILD              bootstrap: stubs for all of cuda.h
#   build.sh BUILD BINARY...    stubs for what the binaries leave undefined,
#                               then a check that the library now defines
#                               every cu* symbol they need
#
# SANITIZE=address builds it under AddressSanitizer, for test binaries built
# with go test -asan (which load the sanitizer runtime it needs). NO_API=1
# leaves out the stand-in's own interface (standin.h), as NVIDIA's driver
# does.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$1
shift
mkdir -p "$build"
CC=${CC:-cc}
cflags=(-std=gnu11 -O2 -fPIC -fvisibility=hidden -Wall -Wextra -Werror)
ldflags=(-Wl,-z,defs)
if [ -n "${NO_API:-}" ]; then
	cflags+=(-DMBFAKE_NO_API)
fi
if [ -n "${SANITIZE:-}" ]; then
	cflags+=(-fsanitize="$SANITIZE" -fno-omit-frame-pointer -g)
	ldflags+=(-fsanitize="$SANITIZE")
fi

# The CUDA error names, from cuda.h, for cuGetErrorName.
printf '#include <cuda.h>\n' | $CC -E -dD -x c - |
	grep -oE '^ *CUDA_(SUCCESS|ERROR_[A-Z0-9_]+) *= *[0-9]+' |
	sed -E 's/^ *([A-Z0-9_]+) *= *([0-9]+)/{\2, "\1"},/' >"$build/errnames.inc.tmp"
mv "$build/errnames.inc.tmp" "$build/errnames.inc"

$CC "${cflags[@]}" -I"$build" -c "$here/driver.c" -o "$build/driver.o"
nm --defined-only -g "$build/driver.o" | awk '{print $NF}' >"$build/defined.txt"

# Every call the backend makes (CALLS.txt) must be implemented, not stubbed.
unimplemented=$(grep -vE '^(#|$)' "$here/CALLS.txt" | sort -u | comm -23 - <(sort -u "$build/defined.txt"))
if [ -n "$unimplemented" ]; then
	echo "build.sh: CALLS.txt names calls driver/driver.c does not implement:" $unimplemented >&2
	exit 1
fi

if [ $# -eq 0 ]; then
	bash "$here/gen-stubs.sh" "$build/defined.txt" "$build/stubs.c" --header
else
	bash "$here/gen-stubs.sh" "$build/defined.txt" "$build/stubs.c" "$@"
fi
$CC "${cflags[@]}" -Wno-unused-parameter -c "$build/stubs.c" -o "$build/stubs.o"
$CC -shared -Wl,-soname,libcuda.so.1 "${ldflags[@]}" -o "$build/libcuda.so.1.tmp" \
	"$build/driver.o" "$build/stubs.o" -lpthread
mv "$build/libcuda.so.1.tmp" "$build/libcuda.so.1"
ln -sf libcuda.so.1 "$build/libcuda.so"

if [ $# -gt 0 ]; then
	# Every driver symbol a binary needs must now resolve to the stand-in.
	nm -D --defined-only "$build/libcuda.so.1" | awk '{print $NF}' | sort -u >"$build/exported.txt"
	missing=$(for bin in "$@"; do nm -D --undefined-only "$bin" | awk '{print $NF}'; done |
		grep -E '^cu[A-Z]' | sort -u | comm -23 - "$build/exported.txt")
	if [ -n "$missing" ]; then
		echo "build.sh: the stand-in lacks: $missing" >&2
		exit 1
	fi
	# The binaries must run on NVIDIA's driver too: none may link against
	# the stand-in's own symbols (standin.h), only look them up.
	linked=$(for bin in "$@"; do nm -D --undefined-only "$bin" | awk '{print $NF}'; done | grep '^mbfake_' | sort -u || true)
	if [ -n "$linked" ]; then
		echo "build.sh: test binaries link against stand-in-only symbols:" $linked >&2
		exit 1
	fi
	echo "stand-in libcuda.so.1: $(grep -c '^STUB' "$build/stubs.c") stubs, $(grep -c '^cu' "$build/defined.txt") implemented calls"
fi
