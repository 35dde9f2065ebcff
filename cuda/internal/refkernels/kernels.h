/* kernels.h: CPU reference implementations of the CUDA kernels in
 * cuda/kernels/NAME.cu, callable the way cuLaunchKernel calls a kernel.
 *
 * Contract with the stand-in driver (cuda/fakecuda) and with package
 * cuda's host backend:
 *
 *  - Kernel NAME (the `.entry NAME(` of the committed PTX, an extern "C"
 *    function of cuda/kernels/NAME.cu or a file next to it) has a reference
 *    int mbref_NAME_launch(gx, gy, gz, bx, by, bz, params) that computes
 *    what the whole grid computes, in the order the kernel's threads
 *    combine partial results, so results match the GPU bit for bit (the
 *    kernels use no FMA contraction and fixed reduction trees).
 *  - params is what cuLaunchKernel's kernelParams is: params[i] points at
 *    the i-th argument's value. A device-pointer argument (MBREF_PARAM_DEVPTR)
 *    is read as a 64-bit integer holding a host address: a stand-in driver
 *    must translate CUdeviceptr values to host addresses before the call.
 *    MBREF_PARAM_F32 is read as a 4-byte float and MBREF_PARAM_U64 as an
 *    8-byte unsigned integer at params[i]. Callers may hold every argument
 *    in an 8-byte slot (a float in the slot's first 4 bytes): the reference
 *    reads only the argument's own size.
 *  - Only 1-D launches are modelled: gy, gz, by and bz must be 1. The launch
 *    functions return MBREF_OK, or MBREF_EBADLAUNCH for a launch shape the
 *    kernel does not support (the caller should turn that into
 *    CUDA_ERROR_INVALID_VALUE) without touching memory.
 *  - mbref_kernels lists every kernel, ending with an entry whose name is
 *    NULL; mbref_find looks one up by name.
 *
 * Kernels (n is always the element count, a u64):
 *   mb_scale_f32(y, x, a, n)                y[i] = a * x[i]       (y may be x)
 *   mb_axpy_f32(y, x, a, n)                 y[i] = a * x[i] + y[i]
 *   mb_affine_clamp_f32(y, x, a, b, lo, hi, n)
 *                                           y[i] = min(max(a*x[i] + b, lo), hi)
 *                                           (fminf/fmaxf: a NaN product gives lo)
 *   mb_sum_f32(partial, x, n)               partial[blockIdx] = sum of x[i] for
 *                                           i = blockIdx*bx + t + k*gx*bx; each
 *                                           thread t sums its elements in
 *                                           order, then the block adds the bx
 *                                           sums pairwise (stride bx/2, bx/4,
 *                                           ..., 1). bx must be a power of two
 *                                           <= MBREF_MAX_BLOCK. A second launch
 *                                           with gx = 1 over the partials gives
 *                                           the total.
 *   Elementwise kernels use a grid-stride loop, so any gx, bx >= 1 covers n.
 */
#ifndef MEMBRIDGE_KERNELS_H
#define MEMBRIDGE_KERNELS_H

#include <stdint.h>

#define MBREF_OK 0
#define MBREF_EBADLAUNCH 1

#define MBREF_MAX_PARAMS 8
#define MBREF_MAX_BLOCK 1024

enum mbref_param_kind {
	MBREF_PARAM_DEVPTR = 1, /* CUdeviceptr (8 bytes) */
	MBREF_PARAM_F32 = 2,    /* float (4 bytes) */
	MBREF_PARAM_U64 = 3     /* unsigned long long (8 bytes) */
};

typedef int (*mbref_launch_fn)(unsigned gx, unsigned gy, unsigned gz,
                               unsigned bx, unsigned by, unsigned bz,
                               void **params);

struct mbref_kernel {
	const char *name;                          /* the PTX .entry name */
	int nparams;                               /* number of parameters */
	enum mbref_param_kind kinds[MBREF_MAX_PARAMS]; /* kind of each */
	mbref_launch_fn launch;
};

extern const struct mbref_kernel mbref_kernels[];

/* mbref_find returns the kernel called name, or NULL. */
const struct mbref_kernel *mbref_find(const char *name);

/* mbref_launch_slots calls k->launch with params[i] = &slots[i], for
 * callers that hold each argument in an 8-byte slot. It returns
 * MBREF_EBADLAUNCH when nslots is not k->nparams. */
int mbref_launch_slots(const struct mbref_kernel *k, unsigned gx, unsigned bx,
                       uint64_t *slots, int nslots);

int mbref_mb_scale_f32_launch(unsigned gx, unsigned gy, unsigned gz,
                              unsigned bx, unsigned by, unsigned bz, void **params);
int mbref_mb_axpy_f32_launch(unsigned gx, unsigned gy, unsigned gz,
                             unsigned bx, unsigned by, unsigned bz, void **params);
int mbref_mb_affine_clamp_f32_launch(unsigned gx, unsigned gy, unsigned gz,
                                     unsigned bx, unsigned by, unsigned bz, void **params);
int mbref_mb_sum_f32_launch(unsigned gx, unsigned gy, unsigned gz,
                            unsigned bx, unsigned by, unsigned bz, void **params);

#endif
