#!/usr/bin/env bash
# Installs CUDA 11.8 (cuda.h, libcuda, nvcc, ptxas) from Debian's non-free
# component, unless it is there already. Steps 20 and 30 both need it.
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
