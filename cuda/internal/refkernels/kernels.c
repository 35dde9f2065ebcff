/* kernels.c: the CPU reference kernels described in kernels.h. */

/* Each multiply and add rounds on its own, as the kernels' __fmul_rn and
 * __fadd_rn do: no fused multiply-add, on any target. */
#pragma GCC optimize("fp-contract=off")
#include <math.h>
#include <stddef.h>
#include <string.h>

#include "kernels.h"

static float *devptr(void *param) {
	return (float *)(uintptr_t)(*(const uint64_t *)param);
}

static float f32(void *param) { return *(const float *)param; }

static uint64_t u64(void *param) { return *(const uint64_t *)param; }

static int one_dim(unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz) {
	return gx >= 1 && bx >= 1 && bx <= MBREF_MAX_BLOCK && gy == 1 && gz == 1 && by == 1 && bz == 1;
}

int mbref_mb_scale_f32_launch(unsigned gx, unsigned gy, unsigned gz,
                              unsigned bx, unsigned by, unsigned bz, void **params) {
	if (!one_dim(gx, gy, gz, bx, by, bz)) {
		return MBREF_EBADLAUNCH;
	}
	float *y = devptr(params[0]);
	const float *x = devptr(params[1]);
	float a = f32(params[2]);
	uint64_t n = u64(params[3]);
	for (uint64_t i = 0; i < n; i++) {
		y[i] = a * x[i];
	}
	return MBREF_OK;
}

int mbref_mb_axpy_f32_launch(unsigned gx, unsigned gy, unsigned gz,
                             unsigned bx, unsigned by, unsigned bz, void **params) {
	if (!one_dim(gx, gy, gz, bx, by, bz)) {
		return MBREF_EBADLAUNCH;
	}
	float *y = devptr(params[0]);
	const float *x = devptr(params[1]);
	float a = f32(params[2]);
	uint64_t n = u64(params[3]);
	for (uint64_t i = 0; i < n; i++) {
		float p = a * x[i]; /* rounded before the add, as __fmul_rn */
		y[i] = p + y[i];
	}
	return MBREF_OK;
}

int mbref_mb_affine_clamp_f32_launch(unsigned gx, unsigned gy, unsigned gz,
                                     unsigned bx, unsigned by, unsigned bz, void **params) {
	if (!one_dim(gx, gy, gz, bx, by, bz)) {
		return MBREF_EBADLAUNCH;
	}
	float *y = devptr(params[0]);
	const float *x = devptr(params[1]);
	float a = f32(params[2]);
	float b = f32(params[3]);
	float lo = f32(params[4]);
	float hi = f32(params[5]);
	uint64_t n = u64(params[6]);
	for (uint64_t i = 0; i < n; i++) {
		float p = a * x[i];
		float v = p + b;
		y[i] = fminf(fmaxf(v, lo), hi);
	}
	return MBREF_OK;
}

int mbref_mb_sum_f32_launch(unsigned gx, unsigned gy, unsigned gz,
                            unsigned bx, unsigned by, unsigned bz, void **params) {
	if (!one_dim(gx, gy, gz, bx, by, bz) || (bx & (bx - 1)) != 0) {
		return MBREF_EBADLAUNCH;
	}
	float *partial = devptr(params[0]);
	const float *x = devptr(params[1]);
	uint64_t n = u64(params[2]);
	uint64_t stride = (uint64_t)gx * bx;
	float shared[MBREF_MAX_BLOCK];
	for (unsigned b = 0; b < gx; b++) {
		for (unsigned t = 0; t < bx; t++) {
			float acc = 0.0f;
			for (uint64_t i = (uint64_t)b * bx + t; i < n; i += stride) {
				acc += x[i];
			}
			shared[t] = acc;
		}
		for (unsigned s = bx / 2; s > 0; s >>= 1) {
			for (unsigned t = 0; t < s; t++) {
				shared[t] += shared[t + s];
			}
		}
		partial[b] = shared[0];
	}
	return MBREF_OK;
}

const struct mbref_kernel mbref_kernels[] = {
	{"mb_scale_f32", 4,
	 {MBREF_PARAM_DEVPTR, MBREF_PARAM_DEVPTR, MBREF_PARAM_F32, MBREF_PARAM_U64},
	 mbref_mb_scale_f32_launch},
	{"mb_axpy_f32", 4,
	 {MBREF_PARAM_DEVPTR, MBREF_PARAM_DEVPTR, MBREF_PARAM_F32, MBREF_PARAM_U64},
	 mbref_mb_axpy_f32_launch},
	{"mb_affine_clamp_f32", 7,
	 {MBREF_PARAM_DEVPTR, MBREF_PARAM_DEVPTR, MBREF_PARAM_F32, MBREF_PARAM_F32,
	  MBREF_PARAM_F32, MBREF_PARAM_F32, MBREF_PARAM_U64},
	 mbref_mb_affine_clamp_f32_launch},
	{"mb_sum_f32", 3,
	 {MBREF_PARAM_DEVPTR, MBREF_PARAM_DEVPTR, MBREF_PARAM_U64},
	 mbref_mb_sum_f32_launch},
	{NULL, 0, {0}, NULL},
};

const struct mbref_kernel *mbref_find(const char *name) {
	for (const struct mbref_kernel *k = mbref_kernels; k->name != NULL; k++) {
		if (strcmp(k->name, name) == 0) {
			return k;
		}
	}
	return NULL;
}

int mbref_launch_slots(const struct mbref_kernel *k, unsigned gx, unsigned bx,
                       uint64_t *slots, int nslots) {
	void *params[MBREF_MAX_PARAMS];
	if (nslots != k->nparams) {
		return MBREF_EBADLAUNCH;
	}
	for (int i = 0; i < nslots; i++) {
		params[i] = &slots[i];
	}
	return k->launch(gx, 1, 1, bx, 1, 1, params);
}
