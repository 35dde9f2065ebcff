//go:build ignore

// The constraint above keeps go build from compiling this file: package
// driver embeds it and build.sh compiles it into libcuda.so.1.

/* driver.c: a stand-in for NVIDIA's libcuda.so.1 that runs on host memory,
 * so code written against the CUDA driver API can be tested on a machine
 * with no GPU. Test-only; never ship it.
 *
 * It includes NVIDIA's cuda.h, so every function below gets NVIDIA's
 * prototype and the symbol name cuda.h maps it to (cuMemAlloc is
 * cuMemAlloc_v2, and so on). Driver calls it does not model are answered
 * with CUDA_ERROR_NOT_SUPPORTED by stubs that gen-stubs.sh generates from
 * the test binaries' undefined symbols.
 *
 * It is stricter than a GPU where strictness finds bugs:
 *  - device pointers are non-canonical addresses: dereferencing one on the
 *    host faults at once;
 *  - every copy, memset, free and kernel argument is checked against a
 *    table of live allocations (bounds, owner context); addresses are never
 *    reused and allocations are separated by unmapped gaps, so a stale or
 *    overflowing device pointer is an error, not a silent hit elsewhere;
 *  - fresh device and pinned memory is filled with 0xCD, freed memory
 *    with 0xDB before it goes back to malloc;
 *  - each thread has its own context stack; a context whose last retain
 *    was released is destroyed: calls made in it fail with
 *    CUDA_ERROR_CONTEXT_IS_DESTROYED, and the objects still alive in it
 *    are freed and counted as leaks (reclaimed_at_reset);
 *  - stream, event, module and function handles are looked up in tables,
 *    so a garbage or stale handle is CUDA_ERROR_INVALID_HANDLE.
 * Work runs under one lock. By default it runs synchronously: async calls
 * finish before they return. With a stream delay (standin.h's
 * mbfake_delay_stream_work, or the environment variable below) copies and
 * memsets queued on a created stream run only once the delay has passed
 * since they were queued (when a later driver call finds them due), or
 * when something waits for them (cuStreamSynchronize, cuEventSynchronize,
 * cuStreamWaitEvent, cuCtxSynchronize, work on the legacy default stream,
 * any free); events recorded after them report CUDA_ERROR_NOT_READY until
 * then. Work that touches device memory with work still pending on another
 * stream is a race a GPU would lose: it is counted (stream_hazards).
 * Kernels run their registered C references (standin.h), after the work
 * queued before them on their stream.
 *
 * Environment, read by cuInit:
 *  MEMBRIDGE_FAKECUDA_DEVICES=N             devices (1..8, default 1)
 *  MEMBRIDGE_FAKECUDA_MEM=BYTES             memory per device (default 80 GiB)
 *  MEMBRIDGE_FAKECUDA_FAIL_ALLOC_AFTER=N    fault injection (standin.h)
 *  MEMBRIDGE_FAKECUDA_STREAM_DELAY_NS=N     stream work delay (standin.h)
 */
#define _GNU_SOURCE
#include <cuda.h>

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "standin.h"

#define EXPORT __attribute__((visibility("default")))
/* MBFAKE_NO_API builds the driver without its own interface (standin.h),
 * like NVIDIA's: make cuda-test checks that test binaries still run on it. */
#ifdef MBFAKE_NO_API
#define API_EXPORT __attribute__((unused)) static
#else
#define API_EXPORT EXPORT
#endif

#define MAX_DEVICES 8
#define MAX_CTX_DEPTH 64
#define ALLOC_ALIGN 256ULL
#define ALLOC_GAP 4096ULL /* unmapped device addresses between allocations */
#define FILL_FRESH 0xCD
#define FILL_FREED 0xDB

/* ---- state ---------------------------------------------------------- */

struct CUctx_st {
	int device;
	int retains; /* primary-context retain count; active while > 0 */
	unsigned gen; /* bumped at every destruction */
};

struct CUmemPoolHandle_st {
	int device;
	uint64_t release_threshold;
};

struct alloc {
	uint64_t addr; /* device address */
	size_t size;
	unsigned char *host; /* the host memory standing for it */
	struct CUctx_st *ctx;
};

struct device_mem {
	struct alloc *a; /* sorted by addr: addresses only grow */
	size_t n, cap;
	uint64_t next; /* next free offset in the device's address span */
	size_t used;
};

struct pinned {
	struct pinned *next;
	void *p;
	size_t size;
	struct CUctx_st *ctx;
};

/* A work item is a copy or memset queued on a stream under a delay. */
struct work {
	struct work *next;
	uint64_t seq; /* its place in its stream's order */
	int64_t due;  /* CLOCK_MONOTONIC nanoseconds */
	uint64_t dst, src; /* device addresses, or host ones when !dst_dev / !src_dev */
	int dst_dev, src_dev, is_memset;
	unsigned char value;
	unsigned char *staged; /* a host source, copied when queued */
	size_t n;
};

struct CUstream_st {
	struct CUstream_st *next;
	struct CUctx_st *ctx;
	uint64_t queued, done; /* work items queued and finished, ever */
	struct work *head, *tail;
};

struct CUevent_st {
	struct CUevent_st *next;
	struct CUctx_st *ctx;
	struct CUstream_st *stream; /* recorded on it, NULL when complete */
	uint64_t seq;               /* complete once stream->done >= seq */
};

struct CUfunc_st {
	struct CUmod_st *mod;
	char *name;
};

struct CUmod_st {
	struct CUmod_st *next;
	struct CUctx_st *ctx;
	struct CUfunc_st *fn;
	int nfn;
};

struct kernel {
	char *name;
	int nparams;
	unsigned char kinds[MBFAKE_MAX_PARAMS];
	mbfake_kernel_fn fn;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static int initialized;
static int ndevices = 1;
static size_t mem_per_device = 80ULL << 30;
static int64_t fail_after = -1; /* allocations left before injected failures */
static struct CUctx_st ctxs[MAX_DEVICES];
static struct CUmemPoolHandle_st pools[MAX_DEVICES];
static struct device_mem mem[MAX_DEVICES];
static struct pinned *pinned_list;
static struct CUstream_st *streams;
static struct CUevent_st *events;
static struct CUmod_st *modules;
static struct kernel *kernels;
static int nkernels, capkernels;
static struct mbfake_counters counters;
static int64_t stream_delay_ns; /* 0: stream work runs when queued */
static int64_t pending_work;    /* work items queued, not yet run */

/* The initial-exec model: the stand-in is loaded with the program (never
 * dlopen'ed later), so a context-stack access is one %fs-relative load, not
 * a call to __tls_get_addr. */
#define THREAD_LOCAL __thread __attribute__((tls_model("initial-exec")))
static THREAD_LOCAL struct CUctx_st *ctx_stack[MAX_CTX_DEPTH];
static THREAD_LOCAL int ctx_depth;

#define LOCK() pthread_mutex_lock(&mu)
#define UNLOCK() pthread_mutex_unlock(&mu)

/* ---- helpers (called with mu held) ----------------------------------- */

static void flush_all(void);

/* initialized and retains are written under mu but read with atomic loads,
 * so the context-stack calls (push, pop, set, get), which touch only the
 * calling thread's stack, need no lock: a real driver makes them cheap too,
 * and membridge pushes and pops around every call. */
static CUresult check_init(void)
{
	return __atomic_load_n(&initialized, __ATOMIC_ACQUIRE) ? CUDA_SUCCESS : CUDA_ERROR_NOT_INITIALIZED;
}

static int retains(const struct CUctx_st *c)
{
	return __atomic_load_n(&c->retains, __ATOMIC_ACQUIRE);
}

static struct CUctx_st *ctx_from_handle(CUcontext c)
{
	for (int i = 0; i < ndevices; i++)
		if (c == &ctxs[i])
			return &ctxs[i];
	return NULL;
}

/* current returns the calling thread's usable current context. */
static CUresult current(struct CUctx_st **out)
{
	CUresult r = check_init();
	if (r != CUDA_SUCCESS)
		return r;
	if (ctx_depth == 0 || ctx_stack[ctx_depth - 1] == NULL)
		return CUDA_ERROR_INVALID_CONTEXT;
	struct CUctx_st *c = ctx_stack[ctx_depth - 1];
	if (retains(c) == 0)
		return CUDA_ERROR_CONTEXT_IS_DESTROYED;
	*out = c;
	return CUDA_SUCCESS;
}

static int is_device_range(uint64_t p)
{
	return p >= MBFAKE_DEVPTR_BASE && p < MBFAKE_DEVPTR_BASE + MAX_DEVICES * MBFAKE_DEVPTR_SPAN;
}

/* find_alloc returns the index of the live allocation holding address p, or
 * -1. */
static long find_alloc(uint64_t p, struct device_mem **dm)
{
	if (!is_device_range(p))
		return -1;
	int d = (int)((p - MBFAKE_DEVPTR_BASE) / MBFAKE_DEVPTR_SPAN);
	if (d >= ndevices)
		return -1;
	struct device_mem *m = &mem[d];
	size_t lo = 0, hi = m->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (m->a[mid].addr + m->a[mid].size <= p)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == m->n || p < m->a[lo].addr)
		return -1;
	*dm = m;
	return (long)lo;
}

/* span returns the host address for n bytes at device address p, checking
 * that all of [p, p+n) lies in one live allocation. */
static CUresult span(uint64_t p, size_t n, unsigned char **host, struct alloc **owner)
{
	struct device_mem *m;
	long i = find_alloc(p, &m);
	if (i < 0)
		return CUDA_ERROR_INVALID_VALUE;
	struct alloc *a = &m->a[i];
	if (n > a->size - (p - a->addr))
		return CUDA_ERROR_INVALID_VALUE;
	*host = a->host + (p - a->addr);
	if (owner)
		*owner = a;
	return CUDA_SUCCESS;
}

/* host_ok rejects host arguments that are NULL (with n > 0) or device
 * pointers passed where host memory is expected. */
static CUresult host_ok(const void *p, size_t n)
{
	if (n > 0 && p == NULL)
		return CUDA_ERROR_INVALID_VALUE;
	if (is_device_range((uint64_t)(uintptr_t)p))
		return CUDA_ERROR_INVALID_VALUE;
	return CUDA_SUCCESS;
}

static int take_alloc_budget(void)
{
	if (fail_after == 0)
		return 0;
	if (fail_after > 0)
		fail_after--;
	return 1;
}

static CUresult alloc_device(struct CUctx_st *c, size_t size, CUdeviceptr *out)
{
	if (out == NULL || size == 0)
		return CUDA_ERROR_INVALID_VALUE;
	struct device_mem *m = &mem[c->device];
	uint64_t rounded = ((uint64_t)size + ALLOC_ALIGN - 1) & ~(ALLOC_ALIGN - 1);
	if (size > mem_per_device - m->used || rounded < size)
		return CUDA_ERROR_OUT_OF_MEMORY;
	if (m->next + rounded + ALLOC_GAP > MBFAKE_DEVPTR_SPAN)
		return CUDA_ERROR_OUT_OF_MEMORY; /* address span used up */
	if (!take_alloc_budget())
		return CUDA_ERROR_OUT_OF_MEMORY;
	if (m->n == m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 64;
		struct alloc *na = realloc(m->a, cap * sizeof *na);
		if (na == NULL)
			return CUDA_ERROR_OUT_OF_MEMORY;
		m->a = na;
		m->cap = cap;
	}
	unsigned char *host = malloc(size);
	if (host == NULL)
		return CUDA_ERROR_OUT_OF_MEMORY;
	memset(host, FILL_FRESH, size);
	uint64_t addr = MBFAKE_DEVPTR_BASE + (uint64_t)c->device * MBFAKE_DEVPTR_SPAN + m->next;
	m->next += rounded + ALLOC_GAP;
	m->a[m->n++] = (struct alloc){.addr = addr, .size = size, .host = host, .ctx = c};
	m->used += size;
	counters.device_allocs++;
	counters.device_bytes += (int64_t)size;
	counters.total_device_allocs++;
	*out = (CUdeviceptr)addr;
	return CUDA_SUCCESS;
}

static void drop_alloc(struct device_mem *m, long i)
{
	struct alloc *a = &m->a[i];
	memset(a->host, FILL_FREED, a->size);
	free(a->host);
	m->used -= a->size;
	counters.device_allocs--;
	counters.device_bytes -= (int64_t)a->size;
	memmove(a, a + 1, (m->n - (size_t)i - 1) * sizeof *a);
	m->n--;
}

static CUresult free_device(CUdeviceptr p, struct CUctx_st *c)
{
	flush_all(); /* a free waits for the work queued before it */
	struct device_mem *m;
	long i = find_alloc((uint64_t)p, &m);
	if (i < 0 || m->a[i].addr != (uint64_t)p)
		return CUDA_ERROR_INVALID_VALUE;
	if (m->a[i].ctx != c)
		return CUDA_ERROR_INVALID_CONTEXT;
	drop_alloc(m, i);
	return CUDA_SUCCESS;
}

/* stream_ok checks that s is a stream of context c (0, CU_STREAM_LEGACY and
 * CU_STREAM_PER_THREAD belong to every context). */
static CUresult stream_ok(CUstream s, struct CUctx_st *c)
{
	if (s == NULL || s == CU_STREAM_LEGACY || s == CU_STREAM_PER_THREAD)
		return CUDA_SUCCESS;
	for (struct CUstream_st *x = streams; x; x = x->next)
		if (x == s)
			return x->ctx == c ? CUDA_SUCCESS : CUDA_ERROR_INVALID_CONTEXT;
	return CUDA_ERROR_INVALID_HANDLE;
}

static struct CUevent_st *find_event(CUevent e)
{
	for (struct CUevent_st *x = events; x; x = x->next)
		if (x == e)
			return x;
	return NULL;
}

/* ---- delayed stream work (called with mu held) ----------------------- */

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int real_stream(CUstream s)
{
	return s != NULL && s != CU_STREAM_LEGACY && s != CU_STREAM_PER_THREAD;
}

/* run_work does w's copy or memset now. Memory freed since it was queued
 * is a race the program lost: counted, and the write dropped. */
static void run_work(struct work *w)
{
	unsigned char *d = (unsigned char *)(uintptr_t)w->dst;
	const unsigned char *sp = w->staged ? w->staged : (const unsigned char *)(uintptr_t)w->src;
	if (w->dst_dev && span(w->dst, w->n, &d, NULL) != CUDA_SUCCESS) {
		counters.stream_hazards++;
		return;
	}
	if (w->is_memset) {
		memset(d, w->value, w->n);
		return;
	}
	unsigned char *s2;
	if (w->src_dev && !w->staged) {
		if (span(w->src, w->n, &s2, NULL) != CUDA_SUCCESS) {
			counters.stream_hazards++;
			return;
		}
		sp = s2;
	}
	memmove(d, sp, w->n);
}

/* complete runs s's queued work up to and including item seq. */
static void complete(struct CUstream_st *s, uint64_t seq)
{
	while (s->head && s->head->seq <= seq) {
		struct work *w = s->head;
		s->head = w->next;
		if (s->head == NULL)
			s->tail = NULL;
		run_work(w);
		s->done = w->seq;
		pending_work--;
		free(w->staged);
		free(w);
	}
}

/* flush_all runs every stream's queued work, as the legacy default stream
 * and a device-wide synchronisation wait for it. */
static void flush_all(void)
{
	if (pending_work == 0)
		return;
	for (struct CUstream_st *x = streams; x; x = x->next)
		complete(x, UINT64_MAX);
}

/* progress runs the work whose delay has passed. */
static void progress(void)
{
	if (pending_work == 0)
		return;
	int64_t now = now_ns();
	for (struct CUstream_st *x = streams; x; x = x->next)
		while (x->head && x->head->due <= now)
			complete(x, x->head->seq);
}

static int overlaps(uint64_t a, size_t an, uint64_t b, size_t bn)
{
	return an > 0 && bn > 0 && a < b + bn && b < a + an;
}

/* check_hazard counts a race when [p, p+n) of device memory has work
 * pending on a stream other than s. */
static void check_hazard(struct CUstream_st *s, uint64_t p, size_t n)
{
	if (pending_work == 0)
		return;
	for (struct CUstream_st *x = streams; x; x = x->next) {
		if (x == s)
			continue;
		for (struct work *w = x->head; w; w = w->next)
			if ((w->dst_dev && overlaps(w->dst, w->n, p, n)) ||
			    (w->src_dev && overlaps(w->src, w->n, p, n))) {
				counters.stream_hazards++;
				return;
			}
	}
}

/* before_work orders work about to run on stream s: the legacy default
 * stream waits for every stream, a created stream for its own queue. It
 * returns the created stream, or NULL. */
static struct CUstream_st *before_work(CUstream s)
{
	if (!real_stream(s)) {
		flush_all();
		return NULL;
	}
	progress();
	return (struct CUstream_st *)s;
}

/* enqueue queues w on s when a delay is set, and otherwise runs it (after
 * s's earlier work). The arguments were checked. */
static CUresult enqueue(struct CUstream_st *s, struct work w)
{
	if (s != NULL) {
		if (w.dst_dev)
			check_hazard(s, w.dst, w.n);
		if (w.src_dev)
			check_hazard(s, w.src, w.n);
	}
	/* A host destination may be Go memory: it is never written later. */
	if (s == NULL || stream_delay_ns == 0 || !w.dst_dev) {
		if (s != NULL)
			complete(s, UINT64_MAX);
		run_work(&w);
		return CUDA_SUCCESS;
	}
	struct work *q = malloc(sizeof *q);
	if (q == NULL)
		return CUDA_ERROR_OUT_OF_MEMORY;
	*q = w;
	if (!w.is_memset && !w.src_dev && w.n > 0) {
		q->staged = malloc(w.n);
		if (q->staged == NULL) {
			free(q);
			return CUDA_ERROR_OUT_OF_MEMORY;
		}
		memcpy(q->staged, (const void *)(uintptr_t)w.src, w.n);
	}
	int64_t due = now_ns() + stream_delay_ns;
	if (s->tail && s->tail->due > due)
		due = s->tail->due;
	q->due = due;
	q->seq = ++s->queued;
	q->next = NULL;
	if (s->tail)
		s->tail->next = q;
	else
		s->head = q;
	s->tail = q;
	pending_work++;
	counters.delayed_work++;
	return CUDA_SUCCESS;
}

/* drop_stream_work discards s's queue (its context is being destroyed)
 * and completes the events recorded on it. */
static void forget_stream(struct CUstream_st *s)
{
	while (s->head) {
		struct work *w = s->head;
		s->head = w->next;
		pending_work--;
		free(w->staged);
		free(w);
	}
	s->tail = NULL;
	for (struct CUevent_st *e = events; e; e = e->next)
		if (e->stream == s)
			e->stream = NULL;
}

/* destroy_context frees everything context c still owns, counting each
 * object as a leak, and makes c unusable until it is retained again. */
static void destroy_context(struct CUctx_st *c)
{
	struct device_mem *m = &mem[c->device];
	for (long i = (long)m->n - 1; i >= 0; i--)
		if (m->a[i].ctx == c) {
			drop_alloc(m, i);
			counters.reclaimed_at_reset++;
		}
	for (struct pinned **pp = &pinned_list; *pp;) {
		struct pinned *x = *pp;
		if (x->ctx != c) {
			pp = &x->next;
			continue;
		}
		*pp = x->next;
		counters.host_allocs--;
		counters.host_bytes -= (int64_t)x->size;
		counters.reclaimed_at_reset++;
		free(x->p);
		free(x);
	}
	for (struct CUstream_st **pp = &streams; *pp;) {
		struct CUstream_st *x = *pp;
		if (x->ctx != c) {
			pp = &x->next;
			continue;
		}
		*pp = x->next;
		counters.streams--;
		counters.reclaimed_at_reset++;
		forget_stream(x);
		free(x);
	}
	for (struct CUevent_st **pp = &events; *pp;) {
		struct CUevent_st *x = *pp;
		if (x->ctx != c) {
			pp = &x->next;
			continue;
		}
		*pp = x->next;
		counters.events--;
		counters.reclaimed_at_reset++;
		free(x);
	}
	for (struct CUmod_st **pp = &modules; *pp;) {
		struct CUmod_st *x = *pp;
		if (x->ctx != c) {
			pp = &x->next;
			continue;
		}
		*pp = x->next;
		counters.modules--;
		counters.reclaimed_at_reset++;
		for (int i = 0; i < x->nfn; i++)
			free(x->fn[i].name);
		free(x->fn);
		free(x);
	}
	c->gen++;
	counters.active_contexts--;
}

static int env_long(const char *name, long long lo, long long hi, long long *out)
{
	const char *s = getenv(name);
	if (s == NULL || *s == '\0')
		return 1;
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < lo || v > hi) {
		fprintf(stderr, "membridge stand-in libcuda: %s=%s: want an integer in [%lld, %lld]\n",
		        name, s, lo, hi);
		return 0;
	}
	*out = v;
	return 1;
}

/* ---- initialization and devices -------------------------------------- */

EXPORT CUresult cuInit(unsigned int Flags)
{
	if (Flags != 0)
		return CUDA_ERROR_INVALID_VALUE;
	CUresult r = CUDA_SUCCESS;
	LOCK();
	if (!initialized) {
		long long devs = 1, bytes = (long long)mem_per_device, after = -1, delay = 0;
		if (!env_long("MEMBRIDGE_FAKECUDA_DEVICES", 1, MAX_DEVICES, &devs) ||
		    !env_long("MEMBRIDGE_FAKECUDA_MEM", 1, 1LL << 43, &bytes) ||
		    !env_long("MEMBRIDGE_FAKECUDA_FAIL_ALLOC_AFTER", 0, INT64_MAX, &after) ||
		    !env_long("MEMBRIDGE_FAKECUDA_STREAM_DELAY_NS", 0, INT64_MAX / 4, &delay)) {
			r = CUDA_ERROR_INVALID_VALUE;
		} else {
			ndevices = (int)devs;
			mem_per_device = (size_t)bytes;
			fail_after = after;
			stream_delay_ns = delay;
			for (int i = 0; i < ndevices; i++) {
				ctxs[i].device = i;
				pools[i].device = i;
			}
			__atomic_store_n(&initialized, 1, __ATOMIC_RELEASE);
		}
	}
	UNLOCK();
	return r;
}

EXPORT CUresult cuDriverGetVersion(int *driverVersion)
{
	if (driverVersion == NULL)
		return CUDA_ERROR_INVALID_VALUE;
	*driverVersion = CUDA_VERSION;
	return CUDA_SUCCESS;
}

static CUresult device_ok(CUdevice dev)
{
	CUresult r = check_init();
	if (r != CUDA_SUCCESS)
		return r;
	return dev >= 0 && dev < ndevices ? CUDA_SUCCESS : CUDA_ERROR_INVALID_DEVICE;
}

EXPORT CUresult cuDeviceGetCount(int *count)
{
	LOCK();
	CUresult r = check_init();
	if (r == CUDA_SUCCESS && count == NULL)
		r = CUDA_ERROR_INVALID_VALUE;
	if (r == CUDA_SUCCESS)
		*count = ndevices;
	UNLOCK();
	return r;
}

EXPORT CUresult cuDeviceGet(CUdevice *device, int ordinal)
{
	LOCK();
	CUresult r = device_ok(ordinal);
	if (r == CUDA_SUCCESS && device == NULL)
		r = CUDA_ERROR_INVALID_VALUE;
	if (r == CUDA_SUCCESS)
		*device = ordinal;
	UNLOCK();
	return r;
}

EXPORT CUresult cuDeviceGetName(char *name, int len, CUdevice dev)
{
	LOCK();
	CUresult r = device_ok(dev);
	if (r == CUDA_SUCCESS && (name == NULL || len <= 0))
		r = CUDA_ERROR_INVALID_VALUE;
	if (r == CUDA_SUCCESS)
		snprintf(name, (size_t)len, "membridge stand-in H100 #%d (no GPU)", dev);
	UNLOCK();
	return r;
}

EXPORT CUresult cuDeviceTotalMem_v2(size_t *bytes, CUdevice dev)
{
	LOCK();
	CUresult r = device_ok(dev);
	if (r == CUDA_SUCCESS && bytes == NULL)
		r = CUDA_ERROR_INVALID_VALUE;
	if (r == CUDA_SUCCESS)
		*bytes = mem_per_device;
	UNLOCK();
	return r;
}

/* The attributes of an H100 SXM (compute capability 9.0) that the stand-in
 * models; others are CUDA_ERROR_NOT_SUPPORTED rather than a made-up 0. */
static int attribute(CUdevice_attribute a, int *v)
{
	switch (a) {
	case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR: *v = 9; return 1;
	case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR: *v = 0; return 1;
	case CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT: *v = 132; return 1;
	case CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK: *v = 1024; return 1;
	case CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_MULTIPROCESSOR: *v = 2048; return 1;
	case CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_X: *v = 1024; return 1;
	case CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Y: *v = 1024; return 1;
	case CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Z: *v = 64; return 1;
	case CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_X: *v = 2147483647; return 1;
	case CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Y: *v = 65535; return 1;
	case CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Z: *v = 65535; return 1;
	case CU_DEVICE_ATTRIBUTE_WARP_SIZE: *v = 32; return 1;
	case CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK: *v = 49152; return 1;
	case CU_DEVICE_ATTRIBUTE_TOTAL_CONSTANT_MEMORY: *v = 65536; return 1;
	case CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE: *v = 50 << 20; return 1;
	case CU_DEVICE_ATTRIBUTE_GLOBAL_MEMORY_BUS_WIDTH: *v = 5120; return 1;
	case CU_DEVICE_ATTRIBUTE_INTEGRATED: *v = 0; return 1;
	case CU_DEVICE_ATTRIBUTE_CAN_MAP_HOST_MEMORY: *v = 1; return 1;
	case CU_DEVICE_ATTRIBUTE_UNIFIED_ADDRESSING: *v = 1; return 1;
	case CU_DEVICE_ATTRIBUTE_CONCURRENT_KERNELS: *v = 1; return 1;
	case CU_DEVICE_ATTRIBUTE_ASYNC_ENGINE_COUNT: *v = 3; return 1;
	case CU_DEVICE_ATTRIBUTE_MEMORY_POOLS_SUPPORTED: *v = 1; return 1;
	default: return 0;
	}
}

EXPORT CUresult cuDeviceGetAttribute(int *pi, CUdevice_attribute attrib, CUdevice dev)
{
	LOCK();
	CUresult r = device_ok(dev);
	if (r == CUDA_SUCCESS && (pi == NULL || attrib <= 0 || attrib >= CU_DEVICE_ATTRIBUTE_MAX))
		r = CUDA_ERROR_INVALID_VALUE;
	if (r == CUDA_SUCCESS && !attribute(attrib, pi))
		r = CUDA_ERROR_NOT_SUPPORTED;
	UNLOCK();
	return r;
}

/* ---- contexts -------------------------------------------------------- */

EXPORT CUresult cuDevicePrimaryCtxRetain(CUcontext *pctx, CUdevice dev)
{
	LOCK();
	CUresult r = device_ok(dev);
	if (r == CUDA_SUCCESS && pctx == NULL)
		r = CUDA_ERROR_INVALID_VALUE;
	if (r == CUDA_SUCCESS) {
		if (__atomic_fetch_add(&ctxs[dev].retains, 1, __ATOMIC_ACQ_REL) == 0)
			counters.active_contexts++;
		counters.primary_retains++;
		*pctx = &ctxs[dev];
	}
	UNLOCK();
	return r;
}

EXPORT CUresult cuDevicePrimaryCtxRelease_v2(CUdevice dev)
{
	LOCK();
	CUresult r = device_ok(dev);
	if (r == CUDA_SUCCESS && ctxs[dev].retains == 0)
		r = CUDA_ERROR_INVALID_CONTEXT;
	if (r == CUDA_SUCCESS) {
		counters.primary_retains--;
		if (__atomic_sub_fetch(&ctxs[dev].retains, 1, __ATOMIC_ACQ_REL) == 0)
			destroy_context(&ctxs[dev]);
	}
	UNLOCK();
	return r;
}

/* ctx_usable checks a handle given to push/set: a context of ours that is
 * active. */
static CUresult ctx_usable(CUcontext ctx, struct CUctx_st **out)
{
	struct CUctx_st *c = ctx_from_handle(ctx);
	if (c == NULL)
		return CUDA_ERROR_INVALID_CONTEXT;
	if (retains(c) == 0)
		return CUDA_ERROR_CONTEXT_IS_DESTROYED;
	*out = c;
	return CUDA_SUCCESS;
}

EXPORT CUresult cuCtxPushCurrent_v2(CUcontext ctx)
{
	struct CUctx_st *c = NULL;
	CUresult r = check_init();
	if (r == CUDA_SUCCESS)
		r = ctx_usable(ctx, &c);
	if (r == CUDA_SUCCESS && ctx_depth == MAX_CTX_DEPTH)
		r = CUDA_ERROR_OUT_OF_MEMORY;
	if (r == CUDA_SUCCESS)
		ctx_stack[ctx_depth++] = c;
	return r;
}

EXPORT CUresult cuCtxPopCurrent_v2(CUcontext *pctx)
{
	CUresult r = check_init();
	if (r == CUDA_SUCCESS && ctx_depth == 0)
		r = CUDA_ERROR_INVALID_CONTEXT;
	if (r == CUDA_SUCCESS) {
		struct CUctx_st *c = ctx_stack[--ctx_depth];
		if (pctx)
			*pctx = c;
	}
	return r;
}

EXPORT CUresult cuCtxSetCurrent(CUcontext ctx)
{
	struct CUctx_st *c = NULL;
	CUresult r = check_init();
	if (r == CUDA_SUCCESS && ctx == NULL) {
		if (ctx_depth > 0) /* NULL pops, as NVIDIA documents */
			ctx_depth--;
	} else if (r == CUDA_SUCCESS) {
		r = ctx_usable(ctx, &c);
		if (r == CUDA_SUCCESS) {
			if (ctx_depth == 0)
				ctx_depth = 1;
			ctx_stack[ctx_depth - 1] = c;
		}
	}
	return r;
}

EXPORT CUresult cuCtxGetCurrent(CUcontext *pctx)
{
	CUresult r = check_init();
	if (r == CUDA_SUCCESS && pctx == NULL)
		r = CUDA_ERROR_INVALID_VALUE;
	if (r == CUDA_SUCCESS)
		*pctx = ctx_depth ? ctx_stack[ctx_depth - 1] : NULL;
	return r;
}

EXPORT CUresult cuCtxSynchronize(void)
{
	struct CUctx_st *c;
	LOCK();
	CUresult r = current(&c);
	if (r == CUDA_SUCCESS)
		flush_all();
	UNLOCK();
	return r;
}

/* ---- memory ---------------------------------------------------------- */

EXPORT CUresult cuMemGetInfo_v2(size_t *free_bytes, size_t *total)
{
	struct CUctx_st *c;
	LOCK();
	CUresult r = current(&c);
	if (r == CUDA_SUCCESS && (free_bytes == NULL || total == NULL))
		r = CUDA_ERROR_INVALID_VALUE;
	if (r == CUDA_SUCCESS) {
		*total = mem_per_device;
		*free_bytes = mem_per_device - mem[c->device].used;
	}
	UNLOCK();
	return r;
}

EXPORT CUresult cuMemAlloc_v2(CUdeviceptr *dptr, size_t bytesize)
{
	struct CUctx_st *c;
	LOCK();
	CUresult r = current(&c);
	if (r == CUDA_SUCCESS)
		r = alloc_device(c, bytesize, dptr);
	UNLOCK();
	return r;
}

EXPORT CUresult cuMemFree_v2(CUdeviceptr dptr)
{
	struct CUctx_st *c;
	LOCK();
	CUresult r = current(&c);
	if (r == CUDA_SUCCESS)
		r = free_device(dptr, c);
	UNLOCK();
	return r;
}

EXPORT CUresult cuMemAllocHost_v2(void **pp, size_t bytesize)
{
	struct CUctx_st *c;
	LOCK();
	CUresult r = current(&c);
	if (r == CUDA_SUCCESS && (pp == NULL || bytesize == 0))
		r = CUDA_ERROR_INVALID_VALUE;
	if (r == CUDA_SUCCESS && !take_alloc_budget())
		r = CUDA_ERROR_OUT_OF_MEMORY;
	if (r == CUDA_SUCCESS) {
		struct pinned *x = malloc(sizeof *x);
		void *p = NULL;
		if (x == NULL || posix_memalign(&p, 4096, bytesize) != 0) {
			free(x);
			r = CUDA_ERROR_OUT_OF_MEMORY;
		} else {
			memset(p, FILL_FRESH, bytesize);
			*x = (struct pinned){.next = pinned_list, .p = p, .size = bytesize, .ctx = c};
			pinned_list = x;
			counters.host_allocs++;
			counters.host_bytes += (int64_t)bytesize;
			*pp = p;
		}
	}
	UNLOCK();
	return r;
}

EXPORT CUresult cuMemFreeHost(void *p)
{
	struct CUctx_st *c;
	LOCK();
	CUresult r = current(&c);
	if (r == CUDA_SUCCESS) {
		flush_all();
		r = CUDA_ERROR_INVALID_VALUE;
		for (struct pinned **pp = &pinned_list; *pp; pp = &(*pp)->next) {
			struct pinned *x = *pp;
			if (x->p != p)
				continue;
			*pp = x->next;
			counters.host_allocs--;
			counters.host_bytes -= (int64_t)x->size;
			memset(x->p, FILL_FREED, x->size);
			free(x->p);
			free(x);
			r = CUDA_SUCCESS;
			break;
		}
	}
	UNLOCK();
	return r;
}

/* copy does every cuMemcpy*: dst and src are device addresses when the
 * matching flag is set, host pointers otherwise. Device memory may belong
 * to any context (unified addressing); host memory must not be a device
 * address. */
static CUresult copy(uint64_t dst, int dst_dev, uint64_t src, int src_dev, size_t n, CUstream s)
{
	struct CUctx_st *c;
	CUresult r = current(&c);
	if (r == CUDA_SUCCESS)
		r = stream_ok(s, c);
	unsigned char *d = (unsigned char *)(uintptr_t)dst, *sp = (unsigned char *)(uintptr_t)src;
	if (r == CUDA_SUCCESS)
		r = dst_dev ? span(dst, n, &d, NULL) : host_ok(d, n);
	if (r == CUDA_SUCCESS)
		r = src_dev ? span(src, n, &sp, NULL) : host_ok(sp, n);
	if (r == CUDA_SUCCESS && n > 0)
		r = enqueue(before_work(s), (struct work){.dst = dst, .dst_dev = dst_dev, .src = src,
		                                          .src_dev = src_dev, .n = n});
	return r;
}

#define COPY(dst, dd, src, sd, n, s)                                                   \
	do {                                                                           \
		LOCK();                                                                \
		CUresult r_ = copy((uint64_t)(uintptr_t)(dst), dd, (uint64_t)(uintptr_t)(src), \
		                   sd, n, s);                                          \
		UNLOCK();                                                              \
		return r_;                                                             \
	} while (0)

EXPORT CUresult cuMemcpyHtoD_v2(CUdeviceptr dstDevice, const void *srcHost, size_t ByteCount)
{
	COPY(dstDevice, 1, srcHost, 0, ByteCount, NULL);
}

EXPORT CUresult cuMemcpyDtoH_v2(void *dstHost, CUdeviceptr srcDevice, size_t ByteCount)
{
	COPY(dstHost, 0, srcDevice, 1, ByteCount, NULL);
}

EXPORT CUresult cuMemcpyDtoD_v2(CUdeviceptr dstDevice, CUdeviceptr srcDevice, size_t ByteCount)
{
	COPY(dstDevice, 1, srcDevice, 1, ByteCount, NULL);
}

EXPORT CUresult cuMemcpyHtoDAsync_v2(CUdeviceptr dstDevice, const void *srcHost, size_t ByteCount, CUstream hStream)
{
	COPY(dstDevice, 1, srcHost, 0, ByteCount, hStream);
}

EXPORT CUresult cuMemcpyDtoHAsync_v2(void *dstHost, CUdeviceptr srcDevice, size_t ByteCount, CUstream hStream)
{
	COPY(dstHost, 0, srcDevice, 1, ByteCount, hStream);
}

EXPORT CUresult cuMemcpyDtoDAsync_v2(CUdeviceptr dstDevice, CUdeviceptr srcDevice, size_t ByteCount, CUstream hStream)
{
	COPY(dstDevice, 1, srcDevice, 1, ByteCount, hStream);
}

static CUresult memset8(CUdeviceptr p, unsigned char v, size_t n, CUstream s)
{
	struct CUctx_st *c;
	unsigned char *host;
	struct alloc *a;
	CUresult r = current(&c);
	if (r == CUDA_SUCCESS)
		r = stream_ok(s, c);
	if (r == CUDA_SUCCESS)
		r = span((uint64_t)p, n, &host, &a);
	if (r == CUDA_SUCCESS && a->ctx != c)
		r = CUDA_ERROR_INVALID_CONTEXT;
	if (r == CUDA_SUCCESS && n > 0)
		r = enqueue(before_work(s), (struct work){.dst = (uint64_t)p, .dst_dev = 1, .is_memset = 1,
		                                          .value = v, .n = n});
	return r;
}

EXPORT CUresult cuMemsetD8_v2(CUdeviceptr dstDevice, unsigned char uc, size_t N)
{
	LOCK();
	CUresult r = memset8(dstDevice, uc, N, NULL);
	UNLOCK();
	return r;
}

EXPORT CUresult cuMemsetD8Async(CUdeviceptr dstDevice, unsigned char uc, size_t N, CUstream hStream)
{
	LOCK();
	CUresult r = memset8(dstDevice, uc, N, hStream);
	UNLOCK();
	return r;
}

/* ---- stream-ordered allocation --------------------------------------- */

EXPORT CUresult cuDeviceGetDefaultMemPool(CUmemoryPool *pool_out, CUdevice dev)
{
	LOCK();
	CUresult r = device_ok(dev);
	if (r == CUDA_SUCCESS && pool_out == NULL)
		r = CUDA_ERROR_INVALID_VALUE;
	if (r == CUDA_SUCCESS)
		*pool_out = &pools[dev];
	UNLOCK();
	return r;
}

EXPORT CUresult cuMemPoolSetAttribute(CUmemoryPool pool, CUmemPool_attribute attr, void *value)
{
	LOCK();
	CUresult r = check_init();
	struct CUmemPoolHandle_st *p = NULL;
	for (int i = 0; i < ndevices; i++)
		if (pool == &pools[i])
			p = &pools[i];
	if (r == CUDA_SUCCESS && p == NULL)
		r = CUDA_ERROR_INVALID_HANDLE;
	if (r == CUDA_SUCCESS && value == NULL)
		r = CUDA_ERROR_INVALID_VALUE;
	if (r == CUDA_SUCCESS) {
		switch (attr) {
		case CU_MEMPOOL_ATTR_RELEASE_THRESHOLD:
			p->release_threshold = *(cuuint64_t *)value;
			break;
		case CU_MEMPOOL_ATTR_REUSE_FOLLOW_EVENT_DEPENDENCIES:
		case CU_MEMPOOL_ATTR_REUSE_ALLOW_OPPORTUNISTIC:
		case CU_MEMPOOL_ATTR_REUSE_ALLOW_INTERNAL_DEPENDENCIES:
			break; /* reuse policies: nothing is pooled here, so no effect */
		default:
			r = CUDA_ERROR_INVALID_VALUE;
		}
	}
	UNLOCK();
	return r;
}

EXPORT CUresult cuMemAllocAsync(CUdeviceptr *dptr, size_t bytesize, CUstream hStream)
{
	struct CUctx_st *c;
	LOCK();
	CUresult r = current(&c);
	if (r == CUDA_SUCCESS)
		r = stream_ok(hStream, c);
	if (r == CUDA_SUCCESS)
		r = alloc_device(c, bytesize, dptr);
	UNLOCK();
	return r;
}

EXPORT CUresult cuMemFreeAsync(CUdeviceptr dptr, CUstream hStream)
{
	struct CUctx_st *c;
	LOCK();
	CUresult r = current(&c);
	if (r == CUDA_SUCCESS)
		r = stream_ok(hStream, c);
	if (r == CUDA_SUCCESS)
		r = free_device(dptr, c);
	UNLOCK();
	return r;
}

/* ---- streams and events ---------------------------------------------- */

EXPORT CUresult cuStreamCreate(CUstream *phStream, unsigned int Flags)
{
	struct CUctx_st *c;
	LOCK();
	CUresult r = current(&c);
	if (r == CUDA_SUCCESS && (phStream == NULL || (Flags & ~(unsigned)CU_STREAM_NON_BLOCKING) != 0))
		r = CUDA_ERROR_INVALID_VALUE;
	if (r == CUDA_SUCCESS) {
		struct CUstream_st *s = malloc(sizeof *s);
		if (s == NULL) {
			r = CUDA_ERROR_OUT_OF_MEMORY;
		} else {
			*s = (struct CUstream_st){.next = streams, .ctx = c};
			streams = s;
			counters.streams++;
			*phStream = s;
		}
	}
	UNLOCK();
	return r;
}

EXPORT CUresult cuStreamDestroy_v2(CUstream hStream)
{
	LOCK();
	CUresult r = check_init();
	if (r == CUDA_SUCCESS) {
		r = CUDA_ERROR_INVALID_HANDLE;
		for (struct CUstream_st **pp = &streams; *pp; pp = &(*pp)->next) {
			if (*pp != hStream)
				continue;
			struct CUstream_st *s = *pp;
			*pp = s->next;
			complete(s, UINT64_MAX); /* its work finishes first */
			forget_stream(s);
			free(s);
			counters.streams--;
			r = CUDA_SUCCESS;
			break;
		}
	}
	UNLOCK();
	return r;
}

EXPORT CUresult cuStreamSynchronize(CUstream hStream)
{
	struct CUctx_st *c;
	LOCK();
	CUresult r = current(&c);
	if (r == CUDA_SUCCESS)
		r = stream_ok(hStream, c);
	if (r == CUDA_SUCCESS) {
		if (real_stream(hStream))
			complete(hStream, UINT64_MAX);
		else
			flush_all();
	}
	UNLOCK();
	return r;
}

EXPORT CUresult cuStreamQuery(CUstream hStream)
{
	struct CUctx_st *c;
	LOCK();
	CUresult r = current(&c);
	if (r == CUDA_SUCCESS)
		r = stream_ok(hStream, c);
	if (r == CUDA_SUCCESS) {
		progress();
		if (real_stream(hStream) ? hStream->head != NULL : pending_work > 0)
			r = CUDA_ERROR_NOT_READY;
	}
	UNLOCK();
	return r;
}

EXPORT CUresult cuStreamWaitEvent(CUstream hStream, CUevent hEvent, unsigned int Flags)
{
	struct CUctx_st *c;
	LOCK();
	CUresult r = current(&c);
	if (r == CUDA_SUCCESS)
		r = stream_ok(hStream, c);
	struct CUevent_st *e = r == CUDA_SUCCESS ? find_event(hEvent) : NULL;
	if (r == CUDA_SUCCESS && e == NULL)
		r = CUDA_ERROR_INVALID_HANDLE;
	if (r == CUDA_SUCCESS && Flags != 0)
		r = CUDA_ERROR_INVALID_VALUE;
	/* The stream's later work waits for the event: here, by running what
	 * the event waits for now. */
	if (r == CUDA_SUCCESS && e->stream != NULL)
		complete(e->stream, e->seq);
	UNLOCK();
	return r;
}

EXPORT CUresult cuEventCreate(CUevent *phEvent, unsigned int Flags)
{
	struct CUctx_st *c;
	unsigned known = CU_EVENT_BLOCKING_SYNC | CU_EVENT_DISABLE_TIMING | CU_EVENT_INTERPROCESS;
	LOCK();
	CUresult r = current(&c);
	if (r == CUDA_SUCCESS && (phEvent == NULL || (Flags & ~known) != 0))
		r = CUDA_ERROR_INVALID_VALUE;
	if (r == CUDA_SUCCESS) {
		struct CUevent_st *e = malloc(sizeof *e);
		if (e == NULL) {
			r = CUDA_ERROR_OUT_OF_MEMORY;
		} else {
			*e = (struct CUevent_st){.next = events, .ctx = c, .stream = NULL};
			events = e;
			counters.events++;
			*phEvent = e;
		}
	}
	UNLOCK();
	return r;
}

EXPORT CUresult cuEventRecord(CUevent hEvent, CUstream hStream)
{
	struct CUctx_st *c;
	LOCK();
	CUresult r = current(&c);
	struct CUevent_st *e = r == CUDA_SUCCESS ? find_event(hEvent) : NULL;
	if (r == CUDA_SUCCESS && e == NULL)
		r = CUDA_ERROR_INVALID_HANDLE;
	if (r == CUDA_SUCCESS)
		r = stream_ok(hStream, c);
	if (r == CUDA_SUCCESS && e->ctx != c)
		r = CUDA_ERROR_INVALID_CONTEXT;
	if (r == CUDA_SUCCESS) {
		if (real_stream(hStream)) {
			e->stream = hStream;
			e->seq = hStream->queued;
		} else {
			flush_all();
			e->stream = NULL;
		}
	}
	UNLOCK();
	return r;
}

/* event_done completes what event e waits for when wait is set, and
 * reports whether it has completed. */
static CUresult event_done(CUevent hEvent, int wait)
{
	LOCK();
	CUresult r = check_init();
	struct CUevent_st *e = r == CUDA_SUCCESS ? find_event(hEvent) : NULL;
	if (r == CUDA_SUCCESS && e == NULL)
		r = CUDA_ERROR_INVALID_HANDLE;
	if (r == CUDA_SUCCESS && e->stream != NULL) {
		if (wait)
			complete(e->stream, e->seq);
		else
			progress();
		if (e->stream->done >= e->seq)
			e->stream = NULL;
		else
			r = CUDA_ERROR_NOT_READY;
	}
	UNLOCK();
	return r;
}

EXPORT CUresult cuEventSynchronize(CUevent hEvent)
{
	return event_done(hEvent, 1);
}

EXPORT CUresult cuEventQuery(CUevent hEvent)
{
	return event_done(hEvent, 0);
}

EXPORT CUresult cuEventDestroy_v2(CUevent hEvent)
{
	LOCK();
	CUresult r = check_init();
	if (r == CUDA_SUCCESS) {
		r = CUDA_ERROR_INVALID_HANDLE;
		for (struct CUevent_st **pp = &events; *pp; pp = &(*pp)->next) {
			if (*pp != hEvent)
				continue;
			struct CUevent_st *e = *pp;
			*pp = e->next;
			free(e);
			counters.events--;
			r = CUDA_SUCCESS;
			break;
		}
	}
	UNLOCK();
	return r;
}

/* ---- modules and kernels --------------------------------------------- */

static int ident_char(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       ch == '_' || ch == '$';
}

/* parse_entries finds the `.entry NAME(` declarations of PTX text and
 * appends their names to mod. */
static CUresult parse_entries(const char *ptx, struct CUmod_st *mod)
{
	for (const char *p = strstr(ptx, ".entry"); p; p = strstr(p + 1, ".entry")) {
		if (p > ptx && ident_char(p[-1]))
			continue;
		const char *q = p + strlen(".entry");
		if (*q != ' ' && *q != '\t')
			continue;
		while (*q == ' ' || *q == '\t')
			q++;
		const char *name = q;
		while (ident_char(*q))
			q++;
		size_t len = (size_t)(q - name);
		while (*q == ' ' || *q == '\t')
			q++;
		if (len == 0 || *q != '(')
			return CUDA_ERROR_INVALID_PTX;
		struct CUfunc_st *fn = realloc(mod->fn, (size_t)(mod->nfn + 1) * sizeof *fn);
		if (fn == NULL)
			return CUDA_ERROR_OUT_OF_MEMORY;
		mod->fn = fn;
		fn[mod->nfn].mod = mod;
		fn[mod->nfn].name = strndup(name, len);
		if (fn[mod->nfn].name == NULL)
			return CUDA_ERROR_OUT_OF_MEMORY;
		mod->nfn++;
	}
	return CUDA_SUCCESS;
}

static void free_module(struct CUmod_st *m)
{
	for (int i = 0; i < m->nfn; i++)
		free(m->fn[i].name);
	free(m->fn);
	free(m);
}

EXPORT CUresult cuModuleLoadData(CUmodule *module, const void *image)
{
	struct CUctx_st *c;
	LOCK();
	CUresult r = current(&c);
	if (r == CUDA_SUCCESS && (module == NULL || image == NULL))
		r = CUDA_ERROR_INVALID_VALUE;
	const char *text = image;
	if (r == CUDA_SUCCESS && strncmp(text, "\x7f" "ELF", 4) == 0)
		r = CUDA_ERROR_NOT_SUPPORTED; /* cubin: no SASS runs here */
	if (r == CUDA_SUCCESS && strstr(text, ".version") == NULL)
		r = CUDA_ERROR_INVALID_PTX;
	if (r == CUDA_SUCCESS) {
		struct CUmod_st *m = calloc(1, sizeof *m);
		if (m == NULL) {
			r = CUDA_ERROR_OUT_OF_MEMORY;
		} else {
			m->ctx = c;
			r = parse_entries(text, m);
			if (r != CUDA_SUCCESS) {
				free_module(m);
			} else {
				m->next = modules;
				modules = m;
				counters.modules++;
				*module = m;
			}
		}
	}
	UNLOCK();
	return r;
}

EXPORT CUresult cuModuleUnload(CUmodule hmod)
{
	LOCK();
	CUresult r = check_init();
	if (r == CUDA_SUCCESS) {
		r = CUDA_ERROR_INVALID_HANDLE;
		for (struct CUmod_st **pp = &modules; *pp; pp = &(*pp)->next) {
			if (*pp != hmod)
				continue;
			struct CUmod_st *m = *pp;
			*pp = m->next;
			free_module(m);
			counters.modules--;
			r = CUDA_SUCCESS;
			break;
		}
	}
	UNLOCK();
	return r;
}

EXPORT CUresult cuModuleGetFunction(CUfunction *hfunc, CUmodule hmod, const char *name)
{
	LOCK();
	CUresult r = check_init();
	struct CUmod_st *m = NULL;
	for (struct CUmod_st *x = modules; r == CUDA_SUCCESS && x; x = x->next)
		if (x == hmod)
			m = x;
	if (r == CUDA_SUCCESS && m == NULL)
		r = CUDA_ERROR_INVALID_HANDLE;
	if (r == CUDA_SUCCESS && (hfunc == NULL || name == NULL))
		r = CUDA_ERROR_INVALID_VALUE;
	if (r == CUDA_SUCCESS) {
		r = CUDA_ERROR_NOT_FOUND;
		for (int i = 0; i < m->nfn; i++)
			if (strcmp(m->fn[i].name, name) == 0) {
				*hfunc = &m->fn[i];
				r = CUDA_SUCCESS;
				break;
			}
	}
	UNLOCK();
	return r;
}

static struct CUfunc_st *find_function(CUfunction f)
{
	for (struct CUmod_st *m = modules; m; m = m->next)
		for (int i = 0; i < m->nfn; i++)
			if (&m->fn[i] == f)
				return f;
	return NULL;
}

static struct kernel *find_kernel(const char *name)
{
	for (int i = 0; i < nkernels; i++)
		if (strcmp(kernels[i].name, name) == 0)
			return &kernels[i];
	return NULL;
}

EXPORT CUresult cuLaunchKernel(CUfunction f, unsigned int gridDimX, unsigned int gridDimY,
                               unsigned int gridDimZ, unsigned int blockDimX, unsigned int blockDimY,
                               unsigned int blockDimZ, unsigned int sharedMemBytes, CUstream hStream,
                               void **kernelParams, void **extra)
{
	struct CUctx_st *c;
	struct CUfunc_st *fn = NULL;
	struct kernel *k = NULL;
	LOCK();
	CUresult r = current(&c);
	if (r == CUDA_SUCCESS && (fn = find_function(f)) == NULL)
		r = CUDA_ERROR_INVALID_HANDLE;
	if (r == CUDA_SUCCESS && fn->mod->ctx != c)
		r = CUDA_ERROR_INVALID_CONTEXT;
	if (r == CUDA_SUCCESS)
		r = stream_ok(hStream, c);
	if (r == CUDA_SUCCESS && extra != NULL)
		r = CUDA_ERROR_NOT_SUPPORTED;
	if (r == CUDA_SUCCESS &&
	    (gridDimX == 0 || gridDimY == 0 || gridDimZ == 0 || gridDimY > 65535 || gridDimZ > 65535 ||
	     blockDimX == 0 || blockDimY == 0 || blockDimZ == 0 || blockDimX > 1024 || blockDimY > 1024 ||
	     blockDimZ > 64 || (uint64_t)blockDimX * blockDimY * blockDimZ > 1024 || gridDimX > 2147483647u ||
	     sharedMemBytes > 49152))
		r = CUDA_ERROR_INVALID_VALUE;
	if (r == CUDA_SUCCESS && (k = find_kernel(fn->name)) == NULL)
		r = CUDA_ERROR_NOT_FOUND; /* no C reference registered for it */
	if (r == CUDA_SUCCESS && k->nparams > 0 && kernelParams == NULL)
		r = CUDA_ERROR_INVALID_VALUE;
	struct CUstream_st *ks = NULL;
	if (r == CUDA_SUCCESS && (ks = before_work(hStream)) != NULL)
		complete(ks, UINT64_MAX); /* a kernel runs after its stream's work */
	void *args[MBFAKE_MAX_PARAMS];
	void *hostptr[MBFAKE_MAX_PARAMS];
	for (int i = 0; r == CUDA_SUCCESS && k && i < k->nparams; i++) {
		if (kernelParams[i] == NULL) {
			r = CUDA_ERROR_INVALID_VALUE;
			break;
		}
		args[i] = kernelParams[i];
		if (k->kinds[i] != MBFAKE_PARAM_DEVPTR)
			continue;
		uint64_t p = *(const CUdeviceptr *)kernelParams[i];
		unsigned char *host = NULL;
		struct alloc *a = NULL;
		if (p != 0) {
			if (span(p, 0, &host, &a) != CUDA_SUCCESS)
				r = CUDA_ERROR_ILLEGAL_ADDRESS; /* the GPU would fault */
			else if (a->ctx != c)
				r = CUDA_ERROR_INVALID_CONTEXT;
			else if (ks != NULL)
				check_hazard(ks, a->addr, a->size);
		}
		hostptr[i] = host;
		args[i] = &hostptr[i];
	}
	if (r == CUDA_SUCCESS) {
		/* Under the lock, so no other thread frees what the kernel uses. */
		if (k->fn(gridDimX, gridDimY, gridDimZ, blockDimX, blockDimY, blockDimZ, args) != 0)
			r = CUDA_ERROR_INVALID_VALUE;
		else
			counters.launches++;
	}
	UNLOCK();
	return r;
}

/* ---- errors ---------------------------------------------------------- */

struct errname {
	CUresult code;
	const char *name;
};

/* errnames.inc is generated from cuda.h by gen-stubs.sh. */
static const struct errname errnames[] = {
#include "errnames.inc"
};

EXPORT CUresult cuGetErrorName(CUresult error, const char **pStr)
{
	if (pStr == NULL)
		return CUDA_ERROR_INVALID_VALUE;
	for (size_t i = 0; i < sizeof errnames / sizeof errnames[0]; i++)
		if (errnames[i].code == error) {
			*pStr = errnames[i].name;
			return CUDA_SUCCESS;
		}
	*pStr = NULL;
	return CUDA_ERROR_INVALID_VALUE;
}

EXPORT CUresult cuGetErrorString(CUresult error, const char **pStr)
{
	/* The name is the description: the stand-in keeps no prose of NVIDIA's. */
	return cuGetErrorName(error, pStr);
}

/* ---- the stand-in's own interface (standin.h) ------------------------ */

API_EXPORT size_t mbfake_read_counters(struct mbfake_counters *out, size_t size)
{
	LOCK();
	if (out)
		memcpy(out, &counters, size < sizeof counters ? size : sizeof counters);
	UNLOCK();
	return sizeof counters;
}

API_EXPORT int mbfake_register_kernel(const char *name, int nparams, const unsigned char *kinds,
                                  mbfake_kernel_fn fn)
{
	if (name == NULL || fn == NULL || nparams < 0 || nparams > MBFAKE_MAX_PARAMS ||
	    (nparams > 0 && kinds == NULL))
		return -1;
	for (int i = 0; i < nparams; i++)
		if (kinds[i] != MBFAKE_PARAM_VALUE && kinds[i] != MBFAKE_PARAM_DEVPTR)
			return -1;
	int rc = 0;
	LOCK();
	struct kernel *k = find_kernel(name);
	if (k != NULL) {
		rc = k->fn == fn && k->nparams == nparams && memcmp(k->kinds, kinds, (size_t)nparams) == 0 ? 0 : -1;
	} else if (nkernels == capkernels) {
		int cap = capkernels ? capkernels * 2 : 16;
		struct kernel *nk = realloc(kernels, (size_t)cap * sizeof *nk);
		if (nk == NULL)
			rc = -1;
		else {
			kernels = nk;
			capkernels = cap;
		}
	}
	if (rc == 0 && k == NULL) {
		k = &kernels[nkernels];
		*k = (struct kernel){.name = strdup(name), .nparams = nparams, .fn = fn};
		if (k->name == NULL) {
			rc = -1;
		} else {
			if (nparams > 0)
				memcpy(k->kinds, kinds, (size_t)nparams);
			nkernels++;
		}
	}
	UNLOCK();
	return rc;
}

API_EXPORT void mbfake_delay_stream_work(int64_t ns)
{
	LOCK();
	stream_delay_ns = ns < 0 ? 0 : ns;
	UNLOCK();
}

API_EXPORT void mbfake_fail_alloc_after(int64_t n)
{
	LOCK();
	fail_after = n < 0 ? -1 : n;
	UNLOCK();
}
