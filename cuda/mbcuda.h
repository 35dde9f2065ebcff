/* mbcuda.h: the cuda backend's C helpers. Each makes the context current
 * (cuCtxPushCurrent), does one operation and restores the thread's previous
 * context (cuCtxPopCurrent) within one cgo call, so Go code needs no thread
 * locking: a goroutine cannot change threads during a cgo call. The
 * exceptions are mbc_ctx_push and mbc_ctx_pop, around the gorgonia.org/cu
 * calls that need the context current (gorgonia_cuda.go's inContext).
 * Handles travel as uintptr_t. Built only with the cuda build tag. */
#ifndef MEMBRIDGE_MBCUDA_H
#define MEMBRIDGE_MBCUDA_H

#include <stddef.h>
#include <stdint.h>

/* The outcome of a helper: the CUresult and the stage that produced it. */
enum { MBC_STAGE_PUSH = 0, MBC_STAGE_CALL = 1, MBC_STAGE_POP = 2 };
typedef struct {
	int rc;
	int stage;
} mbc_status;

#define MBC_MAX_PARAMS 32

const char *mbc_error_name(int rc);

/* For the gorgonia.org/cu calls that act on the current context: push ctx,
 * make the call (on the same locked OS thread), pop it. mbc_ctx_pop fails
 * with CUDA_ERROR_INVALID_CONTEXT if what it pops is not ctx. */
mbc_status mbc_ctx_push(uintptr_t ctx);
mbc_status mbc_ctx_pop(uintptr_t ctx);

mbc_status mbc_primary_retain(int dev, uintptr_t *ctx);
mbc_status mbc_ctx_sync(uintptr_t ctx);
mbc_status mbc_pool_init(uintptr_t ctx, int dev, uint64_t threshold, uintptr_t *pool);

mbc_status mbc_alloc(uintptr_t ctx, size_t n, int zero, uintptr_t *out);
mbc_status mbc_free(uintptr_t ctx, uintptr_t p);
mbc_status mbc_alloc_async(uintptr_t ctx, uintptr_t pool, size_t n, int zero, uintptr_t stream, uintptr_t *out);
mbc_status mbc_free_async(uintptr_t ctx, uintptr_t p, uintptr_t stream);
mbc_status mbc_alloc_host(uintptr_t ctx, size_t n, void **out);
mbc_status mbc_free_host(uintptr_t ctx, void *p);

mbc_status mbc_htod(uintptr_t ctx, uintptr_t dst, const void *src, size_t n, uintptr_t stream, int async);
mbc_status mbc_dtoh(uintptr_t ctx, void *dst, uintptr_t src, size_t n, uintptr_t stream, int async);
mbc_status mbc_dtod(uintptr_t ctx, uintptr_t dst, uintptr_t src, size_t n, uintptr_t stream, int async);
mbc_status mbc_memset(uintptr_t ctx, uintptr_t dst, int v, size_t n, uintptr_t stream, int async);

mbc_status mbc_stream_create(uintptr_t ctx, uintptr_t *out);
mbc_status mbc_stream_destroy(uintptr_t ctx, uintptr_t s);
mbc_status mbc_stream_sync(uintptr_t ctx, uintptr_t s);
mbc_status mbc_stream_wait_event(uintptr_t ctx, uintptr_t s, uintptr_t ev);
mbc_status mbc_event_create(uintptr_t ctx, uintptr_t *out);
mbc_status mbc_event_record(uintptr_t ctx, uintptr_t ev, uintptr_t s);
mbc_status mbc_event_sync(uintptr_t ctx, uintptr_t ev);
mbc_status mbc_event_query(uintptr_t ctx, uintptr_t ev, int *done);
mbc_status mbc_event_destroy(uintptr_t ctx, uintptr_t ev);

/* mbc_launch passes params[i] = &slots[i] (each argument in an 8-byte slot). */
mbc_status mbc_launch(uintptr_t ctx, uintptr_t fn, unsigned gx, unsigned gy, unsigned gz,
                      unsigned bx, unsigned by, unsigned bz, unsigned shmem, uintptr_t stream,
                      const uint64_t *slots, int nslots);

#endif
