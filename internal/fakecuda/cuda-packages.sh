#!/usr/bin/env bash
# cuda-packages.sh: prints the packages whose cuda-tagged test binary links
# gorgonia.org/cu, i.e. needs a libcuda.so.1: the packages make cuda-test
# runs against the stand-in driver.
set -euo pipefail
cd "$(dirname "$0")/../.."
go list -tags cuda -test -f '{{.ImportPath}} {{join .Deps " "}}' ./... |
	awk '$1 ~ /\.test$/ { for (i = 2; i <= NF; i++) if ($i == "gorgonia.org/cu") { sub(/\.test$/, "", $1); print $1; break } }' |
	sort -u
