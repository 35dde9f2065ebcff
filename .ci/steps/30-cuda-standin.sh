#!/usr/bin/env bash
# The cuda-tagged tests, with no GPU: against the stand-in libcuda.so.1
# (internal/fakecuda), plain, under -race and under -asan (make cuda-test).
# Building the stand-in needs cuda.h, from Debian's non-free CUDA packages;
# the install is skipped when they are there (step 20 may have done it).
set -euo pipefail

sudo=
[ "$(id -u)" -eq 0 ] || sudo=sudo

if ! dpkg -s nvidia-cuda-dev nvidia-cuda-toolkit >/dev/null 2>&1; then
	if ! grep -rqsE '^[^#]*non-free([^-]|$)' /etc/apt/sources.list /etc/apt/sources.list.d/; then
		$sudo tee /etc/apt/sources.list.d/membridge-cuda-nonfree.sources >/dev/null <<'SOURCES'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: contrib non-free
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
	fi
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
		nvidia-cuda-dev nvidia-cuda-toolkit >/dev/null
fi
test -f /usr/include/cuda.h

make cuda-test
