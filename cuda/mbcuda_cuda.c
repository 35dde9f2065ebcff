//go:build cuda

/* mbcuda_cuda.c: see mbcuda.h. Only the driver calls listed in
 * cuda/fakecuda's contract are used. */
#include <cuda.h>
#include <string.h>

#include "mbcuda.h"

#define CTX(h) ((CUcontext)(h))
#define STREAM(h) ((CUstream)(h))
#define EVENT(h) ((CUevent)(h))

static mbc_status push(uintptr_t ctx) {
	mbc_status st = {(int)cuCtxPushCurrent(CTX(ctx)), MBC_STAGE_PUSH};
	return st;
}

/* finish pops the context pushed by push and reports rc, or the pop's
 * failure if the call itself succeeded. */
static mbc_status finish(CUresult rc) {
	CUcontext popped;
	CUresult prc = cuCtxPopCurrent(&popped);
	mbc_status st = {(int)rc, MBC_STAGE_CALL};
	if (rc == CUDA_SUCCESS && prc != CUDA_SUCCESS) {
		st.rc = (int)prc;
		st.stage = MBC_STAGE_POP;
	}
	return st;
}

#define PUSH(ctx)                          \
	do {                                   \
		mbc_status st_ = push(ctx);        \
		if (st_.rc != CUDA_SUCCESS) {      \
			return st_;                    \
		}                                  \
	} while (0)

mbc_status mbc_ctx_push(uintptr_t ctx) {
	return push(ctx);
}

mbc_status mbc_ctx_pop(uintptr_t ctx) {
	CUcontext popped = NULL;
	mbc_status st = {(int)cuCtxPopCurrent(&popped), MBC_STAGE_POP};
	if (st.rc == CUDA_SUCCESS && popped != CTX(ctx)) {
		/* The call between push and pop changed the thread's stack. */
		st.rc = (int)CUDA_ERROR_INVALID_CONTEXT;
	}
	return st;
}

const char *mbc_error_name(int rc) {
	const char *name = NULL;
	if (cuGetErrorName((CUresult)rc, &name) != CUDA_SUCCESS || name == NULL) {
		return "CUDA_ERROR_UNKNOWN_CODE";
	}
	return name;
}

mbc_status mbc_primary_retain(int dev, uintptr_t *ctx) {
	CUdevice d;
	CUcontext c = NULL;
	CUresult rc = cuDeviceGet(&d, dev);
	if (rc == CUDA_SUCCESS) {
		rc = cuDevicePrimaryCtxRetain(&c, d);
	}
	*ctx = (uintptr_t)c;
	mbc_status st = {(int)rc, MBC_STAGE_CALL};
	return st;
}

mbc_status mbc_ctx_sync(uintptr_t ctx) {
	PUSH(ctx);
	return finish(cuCtxSynchronize());
}

mbc_status mbc_pool_init(uintptr_t ctx, int dev, uint64_t threshold, uintptr_t *pool) {
	CUdevice d;
	CUmemoryPool p = NULL;
	cuuint64_t t = threshold;
	PUSH(ctx);
	CUresult rc = cuDeviceGet(&d, dev);
	if (rc == CUDA_SUCCESS) {
		rc = cuDeviceGetDefaultMemPool(&p, d);
	}
	if (rc == CUDA_SUCCESS) {
		rc = cuMemPoolSetAttribute(p, CU_MEMPOOL_ATTR_RELEASE_THRESHOLD, &t);
	}
	*pool = (uintptr_t)p;
	return finish(rc);
}

mbc_status mbc_alloc(uintptr_t ctx, size_t n, int zero, uintptr_t *out) {
	CUdeviceptr p = 0;
	PUSH(ctx);
	CUresult rc = cuMemAlloc(&p, n);
	if (rc == CUDA_SUCCESS && zero) {
		rc = cuMemsetD8(p, 0, n);
		if (rc != CUDA_SUCCESS) {
			cuMemFree(p);
			p = 0;
		}
	}
	*out = (uintptr_t)p;
	return finish(rc);
}

mbc_status mbc_free(uintptr_t ctx, uintptr_t p) {
	PUSH(ctx);
	return finish(cuMemFree((CUdeviceptr)p));
}

mbc_status mbc_alloc_async(uintptr_t ctx, uintptr_t pool, size_t n, int zero, uintptr_t stream, uintptr_t *out) {
	CUdeviceptr p = 0;
	(void)pool; /* cuMemAllocAsync takes from the device's current pool, the default one */
	PUSH(ctx);
	CUresult rc = cuMemAllocAsync(&p, n, STREAM(stream));
	if (rc == CUDA_SUCCESS && zero) {
		rc = cuMemsetD8Async(p, 0, n, STREAM(stream));
		if (rc != CUDA_SUCCESS) {
			cuMemFreeAsync(p, STREAM(stream));
			p = 0;
		}
	}
	*out = (uintptr_t)p;
	return finish(rc);
}

mbc_status mbc_free_async(uintptr_t ctx, uintptr_t p, uintptr_t stream) {
	PUSH(ctx);
	return finish(cuMemFreeAsync((CUdeviceptr)p, STREAM(stream)));
}

mbc_status mbc_alloc_host(uintptr_t ctx, size_t n, void **out) {
	void *p = NULL;
	PUSH(ctx);
	CUresult rc = cuMemAllocHost(&p, n);
	*out = p;
	return finish(rc);
}

mbc_status mbc_free_host(uintptr_t ctx, void *p) {
	PUSH(ctx);
	/* Asynchronous copies queued so far may still read or write p. */
	CUresult rc = cuCtxSynchronize();
	if (rc == CUDA_SUCCESS) {
		rc = cuMemFreeHost(p);
	}
	return finish(rc);
}

mbc_status mbc_htod(uintptr_t ctx, uintptr_t dst, const void *src, size_t n, uintptr_t stream, int async) {
	PUSH(ctx);
	if (async) {
		return finish(cuMemcpyHtoDAsync((CUdeviceptr)dst, src, n, STREAM(stream)));
	}
	return finish(cuMemcpyHtoD((CUdeviceptr)dst, src, n));
}

mbc_status mbc_dtoh(uintptr_t ctx, void *dst, uintptr_t src, size_t n, uintptr_t stream, int async) {
	PUSH(ctx);
	if (async) {
		return finish(cuMemcpyDtoHAsync(dst, (CUdeviceptr)src, n, STREAM(stream)));
	}
	return finish(cuMemcpyDtoH(dst, (CUdeviceptr)src, n));
}

mbc_status mbc_dtod(uintptr_t ctx, uintptr_t dst, uintptr_t src, size_t n, uintptr_t stream, int async) {
	PUSH(ctx);
	if (async) {
		return finish(cuMemcpyDtoDAsync((CUdeviceptr)dst, (CUdeviceptr)src, n, STREAM(stream)));
	}
	return finish(cuMemcpyDtoD((CUdeviceptr)dst, (CUdeviceptr)src, n));
}

mbc_status mbc_memset(uintptr_t ctx, uintptr_t dst, int v, size_t n, uintptr_t stream, int async) {
	PUSH(ctx);
	if (async) {
		return finish(cuMemsetD8Async((CUdeviceptr)dst, (unsigned char)v, n, STREAM(stream)));
	}
	return finish(cuMemsetD8((CUdeviceptr)dst, (unsigned char)v, n));
}

mbc_status mbc_stream_create(uintptr_t ctx, uintptr_t *out) {
	CUstream s = NULL;
	PUSH(ctx);
	CUresult rc = cuStreamCreate(&s, CU_STREAM_DEFAULT);
	*out = (uintptr_t)s;
	return finish(rc);
}

mbc_status mbc_stream_destroy(uintptr_t ctx, uintptr_t s) {
	PUSH(ctx);
	return finish(cuStreamDestroy(STREAM(s)));
}

mbc_status mbc_stream_sync(uintptr_t ctx, uintptr_t s) {
	PUSH(ctx);
	return finish(cuStreamSynchronize(STREAM(s)));
}

mbc_status mbc_stream_wait_event(uintptr_t ctx, uintptr_t s, uintptr_t ev) {
	PUSH(ctx);
	return finish(cuStreamWaitEvent(STREAM(s), EVENT(ev), 0));
}

mbc_status mbc_event_create(uintptr_t ctx, uintptr_t *out) {
	CUevent e = NULL;
	PUSH(ctx);
	CUresult rc = cuEventCreate(&e, CU_EVENT_DISABLE_TIMING);
	*out = (uintptr_t)e;
	return finish(rc);
}

mbc_status mbc_event_record(uintptr_t ctx, uintptr_t ev, uintptr_t s) {
	PUSH(ctx);
	return finish(cuEventRecord(EVENT(ev), STREAM(s)));
}

mbc_status mbc_event_sync(uintptr_t ctx, uintptr_t ev) {
	PUSH(ctx);
	return finish(cuEventSynchronize(EVENT(ev)));
}

mbc_status mbc_event_query(uintptr_t ctx, uintptr_t ev, int *done) {
	PUSH(ctx);
	CUresult rc = cuEventQuery(EVENT(ev));
	*done = rc == CUDA_SUCCESS;
	if (rc == CUDA_ERROR_NOT_READY) {
		rc = CUDA_SUCCESS;
	}
	return finish(rc);
}

mbc_status mbc_event_destroy(uintptr_t ctx, uintptr_t ev) {
	PUSH(ctx);
	return finish(cuEventDestroy(EVENT(ev)));
}

mbc_status mbc_launch(uintptr_t ctx, uintptr_t fn, unsigned gx, unsigned gy, unsigned gz,
                      unsigned bx, unsigned by, unsigned bz, unsigned shmem, uintptr_t stream,
                      const uint64_t *slots, int nslots) {
	uint64_t vals[MBC_MAX_PARAMS];
	void *params[MBC_MAX_PARAMS];
	if (nslots < 0 || nslots > MBC_MAX_PARAMS) {
		mbc_status st = {(int)CUDA_ERROR_INVALID_VALUE, MBC_STAGE_CALL};
		return st;
	}
	for (int i = 0; i < nslots; i++) {
		vals[i] = slots[i];
		params[i] = &vals[i];
	}
	PUSH(ctx);
	return finish(cuLaunchKernel((CUfunction)fn, gx, gy, gz, bx, by, bz, shmem, STREAM(stream),
	                             nslots > 0 ? params : NULL, NULL));
}
