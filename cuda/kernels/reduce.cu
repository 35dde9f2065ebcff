// Sum reduction over float32, in two launches: the first writes one partial
// sum per block, the second (one block) sums the partials. The order of the
// additions is fixed (each thread sums its grid-stride elements in order,
// then the block adds pairwise with halving strides), and the C reference
// in cuda/internal/refkernels adds in the same order, so results match bit for bit.
// blockDim.x must be a power of two, at most 1024.

extern "C" __global__ void mb_sum_f32(float *partial, const float *x, unsigned long long n) {
	__shared__ float sums[1024];
	unsigned t = threadIdx.x;
	unsigned long long stride = (unsigned long long)gridDim.x * blockDim.x;
	float acc = 0.0f;
	for (unsigned long long i = (unsigned long long)blockIdx.x * blockDim.x + t; i < n; i += stride) {
		acc = __fadd_rn(acc, x[i]);
	}
	sums[t] = acc;
	__syncthreads();
	for (unsigned s = blockDim.x / 2; s > 0; s >>= 1) {
		if (t < s) {
			sums[t] = __fadd_rn(sums[t], sums[t + s]);
		}
		__syncthreads();
	}
	if (t == 0) {
		partial[blockIdx.x] = sums[0];
	}
}
