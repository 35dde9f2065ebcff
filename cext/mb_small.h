/* mb_small.h: membridge.c's allocator for small blocks (up to
 * MB_SMALL_MAX bytes), the fast path of membridge_malloc and
 * membridge_free. See mb_small.c for the design; membridge.c decides
 * which blocks come from here (mb_small_on) and keeps their state in the
 * word mb_small_word returns.
 */
#ifndef MEMBRIDGE_MB_SMALL_H
#define MEMBRIDGE_MB_SMALL_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* MB_SMALL_MAX is the largest block served here. */
#define MB_SMALL_MAX 16384
#define MB_SMALL_CLASSES 36
/* MB_SMALL_CACHE is how many free blocks of a class a thread keeps. */
#define MB_SMALL_CACHE 64
/* Spans of 256 KiB, in one reserved region of 16 GiB. */
#define MB_SPAN_SHIFT 18
#define MB_REGION_BYTES ((uintptr_t)16 << 30)
/* Each block is preceded by MB_GUARD bytes membridge owns. */
#define MB_GUARD 16

/* A block's state, one 32-bit word kept out of band: 0 for a block never
 * handed out; else MB_WORD_USED | owner << 24 | tag << 16 | size, with
 * MB_WORD_LIVE while it is live. */
#define MB_WORD_LIVE ((uint32_t)1 << 31)
#define MB_WORD_USED ((uint32_t)1 << 30)

static inline uint32_t mb_word(size_t size, int tag, int owner) {
	return MB_WORD_LIVE | MB_WORD_USED | (uint32_t)owner << 24 | (uint32_t)tag << 16 | (uint32_t)size;
}
static inline size_t mb_word_size(uint32_t w) {
	return w & 0xffff;
}
static inline int mb_word_tag(uint32_t w) {
	return (int)(w >> 16 & 0xff);
}
static inline int mb_word_owner(uint32_t w) {
	return (int)(w >> 24 & 0x3f);
}

typedef struct mb_span {
	uintptr_t first;  /* the first block */
	uint64_t recip;   /* ceil(2^40 / stride): off * recip >> 40 == off / stride */
	uint32_t stride;  /* class size + MB_GUARD */
	uint32_t nblocks;
	int cls;
	_Atomic uint32_t words[];
} mb_span;

typedef struct mb_cache {
	uint32_t n[MB_SMALL_CLASSES];
	void *blocks[MB_SMALL_CLASSES][MB_SMALL_CACHE];
} mb_cache;

extern uintptr_t mb_region;              /* 0 until reserved */
extern mb_span *mb_spans[MB_REGION_BYTES >> MB_SPAN_SHIFT];
extern _Atomic int mb_small_state;       /* 0: not decided yet, 1: on, 2: off */
extern __thread mb_cache *mb_my_cache __attribute__((tls_model("initial-exec")));

int mb_small_decide(void);

/* mb_small_on reports whether new small blocks come from here (not in the
 * checking mode, not under AddressSanitizer, and the region reserved). */
static inline int mb_small_on(void) {
	int s = atomic_load_explicit(&mb_small_state, memory_order_relaxed);
	if (__builtin_expect(s == 0, 0)) {
		s = mb_small_decide();
	}
	return s == 1;
}

/* mb_small_classes[(n + 15) >> 4] is the class of n up to 1024 bytes. */
extern const uint8_t mb_small_classes[65];

static inline int mb_small_class(size_t n) {
	if (__builtin_expect(n <= 1024, 1)) {
		return mb_small_classes[(n + 15) >> 4];
	}
	int k = 63 - __builtin_clzll((unsigned long long)(n - 1));
	return 8 + (k - 7) * 4 + (int)(((n - 1) >> (k - 2)) & 3);
}

/* mb_small_owns reports whether p is in the region of small blocks. */
static inline int mb_small_owns(const void *p) {
	return (uintptr_t)p - mb_region < MB_REGION_BYTES && mb_region != 0;
}

/* mb_small_word returns the state word of the block starting at p (in the
 * region), or NULL when p is not the start of a block; *span_out is set
 * to p's span (NULL when p is in no span). */
static inline _Atomic uint32_t *mb_small_word(const void *p, mb_span **span_out) {
	uintptr_t a = (uintptr_t)p;
	mb_span *s = mb_spans[(a - mb_region) >> MB_SPAN_SHIFT];
	*span_out = s;
	if (s == NULL || a < s->first) {
		return NULL;
	}
	uintptr_t off = a - s->first;
	uint64_t i = (uint64_t)off * s->recip >> 40;
	if (i >= s->nblocks || i * s->stride != off) {
		return NULL;
	}
	return &s->words[i];
}

/* mb_small_word_of returns the state word of p, a block start known to
 * be valid (one just taken from a cache). */
static inline _Atomic uint32_t *mb_small_word_of(const void *p) {
	uintptr_t a = (uintptr_t)p;
	mb_span *s = mb_spans[(a - mb_region) >> MB_SPAN_SHIFT];
	return &s->words[(uint64_t)(a - s->first) * s->recip >> 40];
}

/* mb_small_take_cached pops a free block of class c from the thread's
 * cache, or returns NULL. */
static inline void *mb_small_take_cached(int c) {
	mb_cache *mc = mb_my_cache;
	if (__builtin_expect(mc == NULL || mc->n[c] == 0, 0)) {
		return NULL;
	}
	return mc->blocks[c][--mc->n[c]];
}

/* mb_small_alloc returns a block for n bytes (zeroed if asked) with its
 * word set to word, or NULL when none can be had (the caller falls back
 * to malloc). */
void *mb_small_alloc(size_t n, int zero, uint32_t word);

/* mb_small_give_back returns a block whose word its caller has just
 * marked freed to the thread's cache. */
void mb_small_give_back_slow(void *p, int cls);
static inline void mb_small_give_back(void *p, int cls) {
	mb_cache *mc = mb_my_cache;
	if (__builtin_expect(mc == NULL || mc->n[cls] == MB_SMALL_CACHE, 0)) {
		mb_small_give_back_slow(p, cls);
		return;
	}
	mc->blocks[cls][mc->n[cls]++] = p;
}

/* mb_small_set_checking turns the small-block path off (on != 0: new
 * blocks come from malloc one by one, as the checking mode wants) or back
 * on. Blocks already handed out stay where they are. */
void mb_small_set_checking(int on);

#endif
