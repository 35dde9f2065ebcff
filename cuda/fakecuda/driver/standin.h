/* standin.h: what the stand-in CUDA driver (libcuda.so.1 built from
 * driver.c) offers beyond the CUDA driver API, for tests only.
 *
 * Nothing may link against these symbols: a test binary must run unchanged
 * on NVIDIA's driver, where they do not exist. Look them up at run time
 * with dlsym(RTLD_DEFAULT, name) and treat NULL as "not the stand-in".
 */
#ifndef MEMBRIDGE_FAKECUDA_STANDIN_H
#define MEMBRIDGE_FAKECUDA_STANDIN_H

#include <stddef.h>
#include <stdint.h>

/* Counters of what is alive in the stand-in right now, plus a few totals.
 * "Live" counts fall back to zero when a program frees everything. */
struct mbfake_counters {
	int64_t device_allocs;     /* live cuMemAlloc/cuMemAllocAsync allocations */
	int64_t device_bytes;      /* bytes they hold */
	int64_t host_allocs;       /* live cuMemAllocHost allocations */
	int64_t host_bytes;        /* bytes they hold */
	int64_t primary_retains;   /* primary-context retains not yet released */
	int64_t active_contexts;   /* primary contexts currently active */
	int64_t streams;           /* live streams */
	int64_t events;            /* live events */
	int64_t modules;           /* loaded modules */
	int64_t reclaimed_at_reset;/* objects the driver freed because their
	                            * context was destroyed while they lived:
	                            * each one is a leak by the program */
	int64_t total_device_allocs; /* device allocations ever made */
	int64_t launches;          /* kernel launches run */
	int64_t delayed_work;      /* copies and memsets queued under a delay */
	int64_t stream_hazards;    /* work that touched device memory while
	                            * work on another stream still pending
	                            * used it (or found it freed): races */
};

/* Name of the function that fills a struct mbfake_counters:
 * int mbfake_read_counters(struct mbfake_counters *out, size_t size)
 * copies min(size, sizeof *out) bytes and returns sizeof *out. */
#define MBFAKE_READ_COUNTERS "mbfake_read_counters"
typedef size_t (*mbfake_read_counters_fn)(struct mbfake_counters *out, size_t size);

/* A kernel's C reference: computes what the whole grid computes. params[i]
 * points at argument i as cuLaunchKernel's kernelParams does, except that
 * every device pointer has been replaced by the host address it stands
 * for. Returns 0, or non-zero for a launch shape it does not support. */
typedef int (*mbfake_kernel_fn)(unsigned gx, unsigned gy, unsigned gz,
                                unsigned bx, unsigned by, unsigned bz,
                                void **params);

#define MBFAKE_PARAM_VALUE 0  /* passed through as is */
#define MBFAKE_PARAM_DEVPTR 1 /* a CUdeviceptr, translated to a host address */
#define MBFAKE_MAX_PARAMS 16

/* Name of the function that registers a kernel's reference:
 * int mbfake_register_kernel(const char *name, int nparams,
 *                            const unsigned char *kinds, mbfake_kernel_fn fn)
 * kinds[i] is MBFAKE_PARAM_VALUE or MBFAKE_PARAM_DEVPTR. name is copied.
 * Registering the same name and function again is a no-op; another
 * function under a registered name is refused. Returns 0 or -1. */
#define MBFAKE_REGISTER_KERNEL "mbfake_register_kernel"
typedef int (*mbfake_register_kernel_fn)(const char *name, int nparams,
                                         const unsigned char *kinds,
                                         mbfake_kernel_fn fn);

/* Name of the fault-injection switch:
 * void mbfake_fail_alloc_after(int64_t n)
 * lets n more allocations (device, stream-ordered or pinned host) succeed,
 * then fails every later one with CUDA_ERROR_OUT_OF_MEMORY. n < 0 turns
 * fault injection off. The environment variable
 * MEMBRIDGE_FAKECUDA_FAIL_ALLOC_AFTER sets the same at cuInit. */
#define MBFAKE_FAIL_ALLOC_AFTER "mbfake_fail_alloc_after"
typedef void (*mbfake_fail_alloc_after_fn)(int64_t n);

/* Name of the stream delay switch:
 * void mbfake_delay_stream_work(int64_t ns)
 * from now on, copies and memsets into device memory queued on a created
 * stream run only ns nanoseconds after they were queued (in order, when a
 * later driver call finds them due) or when something waits for them;
 * events recorded after them are not ready until then. 0 (or less) turns
 * the delay off; work already queued keeps its time. The environment
 * variable MEMBRIDGE_FAKECUDA_STREAM_DELAY_NS sets the same at cuInit. */
#define MBFAKE_DELAY_STREAM_WORK "mbfake_delay_stream_work"
typedef void (*mbfake_delay_stream_work_fn)(int64_t ns);

/* Device pointers live in [MBFAKE_DEVPTR_BASE, MBFAKE_DEVPTR_BASE +
 * devices * MBFAKE_DEVPTR_SPAN): non-canonical x86-64 addresses, so a host
 * load or store through one faults at once instead of reading memory. */
#define MBFAKE_DEVPTR_BASE 0x4000000000000000ULL
#define MBFAKE_DEVPTR_SPAN (1ULL << 44)

#endif
