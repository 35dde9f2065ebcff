#!/usr/bin/env bash
# The committed PTX of cuda/kernels is what its sources compile to: CUDA
# (Debian non-free, 11.8) is installed when missing, the PTX regenerated in a
# scratch directory and compared byte for byte (nvcc's output is
# deterministic), and each file assembled for H100 with ptxas -arch=sm_90.
set -euo pipefail

bash .ci/install-cuda.sh

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
cp cuda/kernels/*.cu cuda/kernels/gen.sh "$scratch/"
sh "$scratch/gen.sh"

fresh=$(cd "$scratch" && ls -- *.ptx)
committed=$(cd cuda/kernels && ls -- *.ptx)
if [ "$fresh" != "$committed" ]; then
	echo "cuda/kernels: the PTX files differ from what the sources give; run make ptx" >&2
	diff <(echo "$committed") <(echo "$fresh") >&2 || true
	exit 1
fi
for f in $fresh; do
	if ! cmp -s "$scratch/$f" "cuda/kernels/$f"; then
		echo "cuda/kernels/$f is stale: run make ptx and commit the result" >&2
		diff "cuda/kernels/$f" "$scratch/$f" | head -20 >&2 || true
		exit 1
	fi
	ptxas -arch=sm_90 -o /dev/null "cuda/kernels/$f"
done
echo "cuda/kernels: $(echo "$fresh" | wc -w) PTX files fresh, all assemble for sm_90"
