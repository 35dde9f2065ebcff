//go:build cuda

/* register.c: registers membridge's C reference kernels
 * (cuda/internal/refkernels) and a self-test kernel with the stand-in driver, found with dlsym so that
 * nothing links against it: on NVIDIA's driver the lookup fails and this
 * does nothing. It runs as a constructor, after libcuda.so.1 (a dependency
 * of the executable) is loaded and before any Go code. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stddef.h>
#include <stdint.h>

#include "../internal/refkernels/kernels.h"
#include "driver/standin.h"
#include "kernels.h"

int mbfake_registered;
const char *mbfake_registration_failed;

static int selftest_iota_u32(unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by,
                             unsigned bz, void **params)
{
	if (gy != 1 || gz != 1 || by != 1 || bz != 1)
		return 1;
	uint32_t *out = *(uint32_t **)params[0];
	uint64_t n = *(const uint64_t *)params[1];
	uint32_t start = *(const uint32_t *)params[2];
	uint64_t threads = (uint64_t)gx * bx;
	for (uint64_t t = 0; t < threads; t++)
		for (uint64_t i = t; i < n; i += threads)
			out[i] = start + (uint32_t)i;
	return 0;
}

static void add(mbfake_register_kernel_fn reg, const char *name, int nparams,
                const unsigned char *kinds, mbfake_kernel_fn fn)
{
	if (reg(name, nparams, kinds, fn) == 0)
		mbfake_registered++;
	else if (mbfake_registration_failed == NULL)
		mbfake_registration_failed = name;
}

__attribute__((constructor)) static void register_kernels(void)
{
	mbfake_register_kernel_fn reg = (mbfake_register_kernel_fn)dlsym(RTLD_DEFAULT, MBFAKE_REGISTER_KERNEL);
	if (reg == NULL)
		return;
	static const unsigned char iota_kinds[] = {MBFAKE_PARAM_DEVPTR, MBFAKE_PARAM_VALUE, MBFAKE_PARAM_VALUE};
	add(reg, "mbfake_selftest_iota_u32", 3, iota_kinds, selftest_iota_u32);
	for (const struct mbref_kernel *k = mbref_kernels; k->name != NULL; k++) {
		unsigned char kinds[MBFAKE_MAX_PARAMS];
		if (k->nparams > MBFAKE_MAX_PARAMS) {
			if (mbfake_registration_failed == NULL)
				mbfake_registration_failed = k->name;
			continue;
		}
		for (int i = 0; i < k->nparams; i++)
			kinds[i] = k->kinds[i] == MBREF_PARAM_DEVPTR ? MBFAKE_PARAM_DEVPTR : MBFAKE_PARAM_VALUE;
		add(reg, k->name, k->nparams, kinds, k->launch);
	}
}
