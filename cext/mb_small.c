/* mb_small.c: small blocks for membridge.h (see mb_small.h).
 *
 * membridge_malloc must recognise every block handed back to it (a double
 * free, a foreign or interior pointer abort with a message) and count it
 * under its tag. Over malloc that needs a table of blocks beside malloc's
 * own books, which made the pair twice malloc+free. Small blocks are
 * therefore membridge's own, laid out so the books are implied by the
 * address:
 *
 * - Size classes: 16 to 128 bytes in steps of 16, then four classes per
 *   power of two up to MB_SMALL_MAX (36 classes; every size a multiple of
 *   16, so blocks keep malloc's alignment).
 * - Spans: a span is 256 KiB of one class, carved into blocks of the class
 *   size plus a 16-byte guard in front of each. Spans live in one region
 *   of address space reserved at the first small allocation, so the span
 *   of an address is one subtraction, one shift and one load, and the
 *   block's index one multiplication (by the stride's reciprocal).
 * - State out of band: each block has a 32-bit word in its span's
 *   metadata (malloc'd apart from the span): live or freed, owner, tag,
 *   size. A free changes it with one compare-and-swap, so two frees of one
 *   block, even at once on two threads, cannot both succeed, and nothing
 *   is ever read from a block's memory to decide anything.
 * - Caches: each thread keeps up to MB_SMALL_CACHE free blocks per class
 *   (pointers in an array of its own, not links in the blocks, so a write
 *   after free cannot redirect an allocation); it refills from and drains
 *   to a per-class depot under a mutex, half a cache at a time. A thread
 *   that exits gives its cache back to the depots.
 * - The guard holds what glibc's free() reads as a chunk header of a
 *   16-byte mmapped chunk: free() or realloc() of a small block (instead
 *   of membridge_free) aborts in glibc ("munmap_chunk(): invalid pointer")
 *   rather than corrupting either allocator.
 *
 * Memory of freed small blocks stays in the caches and depots for reuse,
 * as malloc keeps its arenas. The checking mode (MEMBRIDGE_CHECK, or the
 * Go side's switch) and AddressSanitizer builds take every block from
 * malloc instead, so valgrind and LeakSanitizer see each one.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "mb_small.h"

#if defined(__SANITIZE_ADDRESS__)
#define MB_SMALL_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MB_SMALL_SANITIZED 1
#endif
#endif
#ifndef MB_SMALL_SANITIZED
#define MB_SMALL_SANITIZED 0
#endif

uintptr_t mb_region;
mb_span *mb_spans[MB_REGION_BYTES >> MB_SPAN_SHIFT];
_Atomic int mb_small_state;
__thread mb_cache *mb_my_cache __attribute__((tls_model("initial-exec")));

#define SPAN_BYTES ((uintptr_t)1 << MB_SPAN_SHIFT)
#define REFILL (MB_SMALL_CACHE / 2)

typedef struct depot {
	pthread_mutex_t mu;
	void **blocks; /* free blocks */
	size_t n, cap;
	mb_span *carving; /* the span blocks are carved from next */
	uint32_t next;    /* its next uncarved block */
} depot;

static depot depots[MB_SMALL_CLASSES];
static pthread_mutex_t region_mu = PTHREAD_MUTEX_INITIALIZER;
static uintptr_t region_used; /* bytes of the region given to spans */
static int checking;          /* under region_mu */
static int checking_set;      /* mb_small_set_checking was called: the environment no longer counts */
static pthread_key_t cache_key;
static int cache_key_ok;

/* Classes 0-7 are 16 to 128 bytes in steps of 16; then 4 per power of
 * two: (128, 256] is 160, 192, 224, 256, and so on up to 16384. */
const uint8_t mb_small_classes[65] = {
    0,  0,  1,  2,  3,  4,  5,  6,  7,  8,  8,  9,  9,  10, 10, 11, 11, 12, 12, 12, 12, 13,
    13, 13, 13, 14, 14, 14, 14, 15, 15, 15, 15, 16, 16, 16, 16, 16, 16, 16, 16, 17, 17, 17,
    17, 17, 17, 17, 17, 18, 18, 18, 18, 18, 18, 18, 18, 19, 19, 19, 19, 19, 19, 19, 19,
};

static size_t class_size(int c) {
	if (c < 8) {
		return (size_t)(c + 1) << 4;
	}
	int k = (c - 8) / 4 + 7, sub = (c - 8) % 4;
	return ((size_t)1 << k) + (size_t)(sub + 1) * ((size_t)1 << (k - 2));
}

/* Locks are taken depot first, then region_mu (refill maps spans with its
 * depot locked); around fork all are, in that order, so a fork while
 * another thread holds one does not leave it held in the child. */
static void lock_all(void) {
	for (int c = 0; c < MB_SMALL_CLASSES; c++) {
		pthread_mutex_lock(&depots[c].mu);
	}
	pthread_mutex_lock(&region_mu);
}

static void unlock_all(void) {
	pthread_mutex_unlock(&region_mu);
	for (int c = MB_SMALL_CLASSES - 1; c >= 0; c--) {
		pthread_mutex_unlock(&depots[c].mu);
	}
}

static void give_back_cache(void *v);

static int env_checking(void) {
	const char *e = getenv("MEMBRIDGE_CHECK");
	return e != NULL && e[0] != '\0' && strcmp(e, "0") != 0;
}

/* reserve takes the region of address space: PROT_NONE, no memory. */
static int reserve(void) {
	void *r = mmap(NULL, MB_REGION_BYTES + SPAN_BYTES, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1,
	               0);
	if (r == MAP_FAILED) {
		return 0;
	}
	uintptr_t a = ((uintptr_t)r + SPAN_BYTES - 1) & ~(SPAN_BYTES - 1);
	for (int c = 0; c < MB_SMALL_CLASSES; c++) {
		pthread_mutex_init(&depots[c].mu, NULL);
	}
	if (pthread_key_create(&cache_key, give_back_cache) == 0) {
		cache_key_ok = 1;
	}
	pthread_atfork(lock_all, unlock_all, unlock_all);
	mb_region = a;
	return 1;
}

int mb_small_decide(void) {
	pthread_mutex_lock(&region_mu);
	int s = atomic_load_explicit(&mb_small_state, memory_order_relaxed);
	if (s == 0) {
		if (!checking_set) {
			checking = env_checking();
		}
		if (MB_SMALL_SANITIZED || checking || (mb_region == 0 && !reserve())) {
			s = 2;
		} else {
			s = 1;
		}
		atomic_store_explicit(&mb_small_state, s, memory_order_release);
	}
	pthread_mutex_unlock(&region_mu);
	return s;
}

void mb_small_set_checking(int on) {
	pthread_mutex_lock(&region_mu);
	checking = on;
	checking_set = 1;
	/* Decided again at the next small allocation. */
	atomic_store_explicit(&mb_small_state, 0, memory_order_release);
	pthread_mutex_unlock(&region_mu);
}

/* new_span maps a span for class c; NULL when the region is spent or
 * memory is short. Called with the class's depot locked. */
static mb_span *new_span(int c) {
	size_t stride = class_size(c) + MB_GUARD;
	uint32_t nblocks = (uint32_t)(SPAN_BYTES / stride);
	mb_span *s = calloc(1, sizeof *s + nblocks * sizeof s->words[0]);
	if (s == NULL) {
		return NULL;
	}
	pthread_mutex_lock(&region_mu);
	uintptr_t at = region_used < MB_REGION_BYTES ? mb_region + region_used : 0;
	if (at != 0 && mmap((void *)at, SPAN_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
	                    -1, 0) == MAP_FAILED) {
		at = 0;
	}
	if (at != 0) {
		region_used += SPAN_BYTES;
	}
	pthread_mutex_unlock(&region_mu);
	if (at == 0) {
		free(s);
		return NULL;
	}
	s->first = at + MB_GUARD;
	s->stride = (uint32_t)stride;
	s->recip = (((uint64_t)1 << 40) + stride - 1) / stride;
	s->nblocks = nblocks;
	s->cls = c;
	/* Published after it is filled in: another thread's mb_small_word may
	 * read it as soon as one of its blocks is handed out. */
	__atomic_store_n(&mb_spans[(at - mb_region) >> MB_SPAN_SHIFT], s, __ATOMIC_RELEASE);
	return s;
}

/* The guard: glibc's chunk header for a 16-byte mmapped chunk (prev_size
 * 0, size 16 | IS_MMAPPED), which its free() and realloc() reject. */
static void write_guard(uintptr_t block) {
	uint64_t *g = (uint64_t *)(block - MB_GUARD);
	g[0] = 0;
	g[1] = 16 | 2;
}

static mb_cache *my_cache(void) {
	mb_cache *mc = mb_my_cache;
	if (mc != NULL || !cache_key_ok) {
		return mc;
	}
	mc = calloc(1, sizeof *mc);
	if (mc == NULL) {
		return NULL;
	}
	if (pthread_setspecific(cache_key, mc) != 0) {
		free(mc);
		return NULL;
	}
	return mb_my_cache = mc;
}

/* refill moves up to REFILL free blocks of class c into blocks; it returns
 * how many. */
static int refill(int c, void **blocks) {
	depot *d = &depots[c];
	int got = 0;
	pthread_mutex_lock(&d->mu);
	while (got < REFILL && d->n > 0) {
		blocks[got++] = d->blocks[--d->n];
	}
	while (got < REFILL) {
		if (d->carving == NULL || d->next == d->carving->nblocks) {
			mb_span *s = new_span(c);
			if (s == NULL) {
				break;
			}
			d->carving = s;
			d->next = 0;
		}
		uintptr_t b = d->carving->first + (uintptr_t)d->next++ * d->carving->stride;
		write_guard(b);
		blocks[got++] = (void *)b;
	}
	pthread_mutex_unlock(&d->mu);
	return got;
}

/* to_depot puts n blocks of class c in its depot; a block that finds no
 * room (memory for the depot's array ran out) is lost to reuse, never
 * handed out twice. */
static void to_depot(int c, void **blocks, size_t n) {
	depot *d = &depots[c];
	pthread_mutex_lock(&d->mu);
	if (d->n + n > d->cap) {
		size_t cap = d->cap ? d->cap : 256;
		while (cap < d->n + n) {
			cap *= 2;
		}
		void **nb = realloc(d->blocks, cap * sizeof *nb);
		if (nb != NULL) {
			d->blocks = nb;
			d->cap = cap;
		}
	}
	for (size_t i = 0; i < n && d->n < d->cap; i++) {
		d->blocks[d->n++] = blocks[i];
	}
	pthread_mutex_unlock(&d->mu);
}

static void give_back_cache(void *v) {
	mb_cache *mc = v;
	for (int c = 0; c < MB_SMALL_CLASSES; c++) {
		to_depot(c, mc->blocks[c], mc->n[c]);
	}
	mb_my_cache = NULL;
	free(mc);
}

void *mb_small_alloc(size_t n, int zero, uint32_t word) {
	int c = mb_small_class(n);
	void *p = mb_small_take_cached(c);
	if (p == NULL) {
		mb_cache *mc = my_cache();
		if (mc != NULL) {
			mc->n[c] = (uint32_t)refill(c, mc->blocks[c]);
			p = mb_small_take_cached(c);
		} else {
			void *one[REFILL];
			int got = refill(c, one);
			if (got > 0) {
				p = one[0];
				to_depot(c, one + 1, (size_t)got - 1);
			}
		}
		if (p == NULL) {
			return NULL;
		}
	}
	mb_span *s;
	_Atomic uint32_t *w = mb_small_word(p, &s);
	if (zero) {
		memset(p, 0, n);
	}
	atomic_store_explicit(w, word, memory_order_release);
	return p;
}

void mb_small_give_back_slow(void *p, int cls) {
	mb_cache *mc = my_cache();
	if (mc == NULL) {
		to_depot(cls, &p, 1);
		return;
	}
	if (mc->n[cls] == MB_SMALL_CACHE) {
		to_depot(cls, mc->blocks[cls] + MB_SMALL_CACHE - REFILL, REFILL);
		mc->n[cls] -= REFILL;
	}
	mc->blocks[cls][mc->n[cls]++] = p;
}
