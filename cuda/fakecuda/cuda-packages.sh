#!/usr/bin/env bash
# cuda-packages.sh: prints the packages whose cuda-tagged test binary links
# gorgonia.org/cu, i.e. needs a libcuda.so.1: the packages make cuda-test
# runs against the stand-in driver.
#
#   cuda-packages.sh --check   instead fails, naming them, if any of those
#                              test binaries lacks package cuda/fakecuda,
#                              without which the stand-in has no kernels to
#                              run (every launch fails with
#                              CUDA_ERROR_NOT_FOUND)
set -euo pipefail
cd "$(dirname "$0")/../.."
go list -tags cuda -test -f '{{.ImportPath}} {{join .Deps " "}}' ./... |
	awk -v check="${1:-}" '
	$1 ~ /\.test$/ {
		cu = 0; fake = 0
		for (i = 2; i <= NF; i++) {
			if ($i == "gorgonia.org/cu") cu = 1
			if ($i == "github.com/membridge/membridge/cuda/fakecuda") fake = 1
		}
		sub(/\.test$/, "", $1)
		if (!cu) next
		if (check != "--check") print $1
		else if (!fake) { print $1 ": its cuda-tagged tests do not link cuda/fakecuda; add a cuda-tagged test file with: import _ \"github.com/membridge/membridge/cuda/fakecuda\"" > "/dev/stderr"; bad = 1 }
	}
	END { exit bad }' | sort -u
