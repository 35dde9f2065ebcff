// Elementwise float32 kernels. Each has a C reference with the same
// semantics in cuda/internal/refkernels (kernels.h is the contract). Multiplies and adds
// are rounded separately (__fmul_rn, __fadd_rn: no fused multiply-add), so
// the GPU and the reference agree bit for bit. A grid-stride loop lets any
// grid cover any n.

extern "C" __global__ void mb_scale_f32(float *y, const float *x, float a, unsigned long long n) {
	unsigned long long stride = (unsigned long long)gridDim.x * blockDim.x;
	for (unsigned long long i = (unsigned long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
		y[i] = __fmul_rn(a, x[i]);
	}
}

extern "C" __global__ void mb_axpy_f32(float *y, const float *x, float a, unsigned long long n) {
	unsigned long long stride = (unsigned long long)gridDim.x * blockDim.x;
	for (unsigned long long i = (unsigned long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
		y[i] = __fadd_rn(__fmul_rn(a, x[i]), y[i]);
	}
}

// mb_affine_clamp_f32 is the example service's record transform: each raw
// sensor reading x is calibrated (gain a, offset b) and clamped to the
// sensor's valid range [lo, hi]. fmaxf/fminf return the other operand for a
// NaN, so an unreadable sample (NaN) becomes lo.
extern "C" __global__ void mb_affine_clamp_f32(float *y, const float *x, float a, float b,
                                               float lo, float hi, unsigned long long n) {
	unsigned long long stride = (unsigned long long)gridDim.x * blockDim.x;
	for (unsigned long long i = (unsigned long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
		float v = __fadd_rn(__fmul_rn(a, x[i]), b);
		y[i] = fminf(fmaxf(v, lo), hi);
	}
}
