/* membridge.c: the C side of membridge (see membridge.h and mb_bridge.h).
 *
 * Accounting without locks. Each thread that allocates gets a slot of
 * counters (allocations and frees, bytes and counts, per tag) that only it
 * writes, so those updates are plain loads and stores, not atomic
 * read-modify-writes. Readers sum the slots. Live bytes per tag is one
 * shared atomic (a single fetch-add per allocation and per free), because
 * peaks need the live total at the moment of each allocation; it sits on a
 * cache line of its own per tag. A thread that exits gives its slot back
 * (a pthread key destructor) and the next new thread reuses it, counts and
 * all, so the sums stay right and slots do not pile up.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mb_bridge.h"
#include "membridge.h"

/* The header before every block. owner says which books count the block;
 * it doubles as the magic number that recognises a membridge block. */
typedef struct header {
	uint64_t size;
	uint32_t owner;
	uint32_t tag;
} header;

_Static_assert(sizeof(header) == 16, "the header keeps blocks 16-byte aligned");

enum {
	OWNER_C = 0x4d42430a,      /* counted by the C counters */
	OWNER_TRACED = 0x4d42540a, /* counted by a Go ledger record (tracing) */
	OWNER_GO = 0x4d42470a,     /* owned by a Go handle, counted by the ledger */
	OWNER_LEAVING = 0x4d424c0a, /* a Go handle ended; its deleter is freeing it */
	OWNER_FREED = 0x4d42460a    /* written just before free() */
};

/* ---- tags ---- */

static char tag_names[MEMBRIDGE_MAX_TAGS][MEMBRIDGE_TAG_MAX_LEN + 1] = {"c-extension"};
static _Atomic int tag_count = 1;
static pthread_mutex_t tag_mu = PTHREAD_MUTEX_INITIALIZER;

int membridge_tag(const char *name) {
	if (name == NULL || name[0] == '\0' || strlen(name) > MEMBRIDGE_TAG_MAX_LEN) {
		return -1;
	}
	pthread_mutex_lock(&tag_mu);
	int n = atomic_load_explicit(&tag_count, memory_order_relaxed);
	int found = -1;
	for (int i = 0; i < n; i++) {
		if (strcmp(tag_names[i], name) == 0) {
			found = i;
			break;
		}
	}
	if (found < 0 && n < MEMBRIDGE_MAX_TAGS) {
		strcpy(tag_names[n], name);
		/* Publish the name before the index becomes valid. */
		atomic_store_explicit(&tag_count, n + 1, memory_order_release);
		found = n;
	}
	pthread_mutex_unlock(&tag_mu);
	return found;
}

int membridge_tag_count(void) {
	return atomic_load_explicit(&tag_count, memory_order_acquire);
}

const char *membridge_tag_name(int tag) {
	if (tag < 0 || tag >= membridge_tag_count()) {
		return NULL;
	}
	return tag_names[tag];
}

static inline int valid_tag(int tag) {
	if (tag < 0 || tag >= atomic_load_explicit(&tag_count, memory_order_relaxed)) {
		return MEMBRIDGE_TAG_DEFAULT;
	}
	return tag;
}

/* ---- counters ---- */

typedef struct tag_live {
	_Atomic int64_t bytes;
	_Atomic int64_t peak;
	char pad[64 - 2 * sizeof(int64_t)];
} tag_live;

static _Alignas(64) tag_live live[MEMBRIDGE_MAX_TAGS];

typedef struct slot {
	_Atomic int64_t alloc_bytes[MEMBRIDGE_MAX_TAGS];
	_Atomic int64_t alloc_count[MEMBRIDGE_MAX_TAGS];
	_Atomic int64_t freed_bytes[MEMBRIDGE_MAX_TAGS];
	_Atomic int64_t freed_count[MEMBRIDGE_MAX_TAGS];
	struct slot *next; /* never changes once the slot is on the list */
	_Atomic int in_use;
} slot;

/* shared is the slot of last resort, for a thread that could not get one
 * of its own (calloc failed); its counters are updated atomically. */
static slot shared = {.in_use = 1};
static _Atomic(slot *) slots = &shared;
static __thread slot *my_slot;
static pthread_key_t slot_key;
static pthread_once_t slot_key_once = PTHREAD_ONCE_INIT;
static int slot_key_ok;

static void give_back_slot(void *v) {
	slot *s = v;
	my_slot = NULL;
	atomic_store_explicit(&s->in_use, 0, memory_order_release);
}

static void make_slot_key(void) {
	slot_key_ok = pthread_key_create(&slot_key, give_back_slot) == 0;
}

static slot *claim_slot(void) {
	pthread_once(&slot_key_once, make_slot_key);
	if (!slot_key_ok) {
		return my_slot = &shared;
	}
	slot *s;
	for (s = atomic_load_explicit(&slots, memory_order_acquire); s != NULL; s = s->next) {
		int free_slot = 0;
		if (s != &shared && atomic_compare_exchange_strong_explicit(&s->in_use, &free_slot, 1,
		                                                            memory_order_acquire, memory_order_relaxed)) {
			break;
		}
	}
	if (s == NULL) {
		s = calloc(1, sizeof *s);
		if (s == NULL) {
			return my_slot = &shared;
		}
		s->in_use = 1;
		s->next = atomic_load_explicit(&slots, memory_order_relaxed);
		while (!atomic_compare_exchange_weak_explicit(&slots, &s->next, s, memory_order_release,
		                                              memory_order_relaxed)) {
		}
	}
	if (pthread_setspecific(slot_key, s) != 0) {
		atomic_store_explicit(&s->in_use, 0, memory_order_release);
		return my_slot = &shared;
	}
	return my_slot = s;
}

/* add updates a counter of slot s, which only the calling thread writes
 * (except the shared slot). */
static inline void add(slot *s, _Atomic int64_t *c, int64_t d) {
	if (__builtin_expect(s == &shared, 0)) {
		atomic_fetch_add_explicit(c, d, memory_order_relaxed);
		return;
	}
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + d, memory_order_relaxed);
}

static inline slot *current_slot(void) {
	slot *s = my_slot;
	return __builtin_expect(s != NULL, 1) ? s : claim_slot();
}

static inline void count_alloc(int tag, size_t n) {
	slot *s = current_slot();
	add(s, &s->alloc_bytes[tag], (int64_t)n);
	add(s, &s->alloc_count[tag], 1);
	int64_t now = atomic_fetch_add_explicit(&live[tag].bytes, (int64_t)n, memory_order_relaxed) + (int64_t)n;
	int64_t peak = atomic_load_explicit(&live[tag].peak, memory_order_relaxed);
	while (now > peak && !atomic_compare_exchange_weak_explicit(&live[tag].peak, &peak, now, memory_order_relaxed,
	                                                            memory_order_relaxed)) {
	}
}

static inline void count_free(int tag, size_t n) {
	slot *s = current_slot();
	add(s, &s->freed_bytes[tag], (int64_t)n);
	add(s, &s->freed_count[tag], 1);
	atomic_fetch_sub_explicit(&live[tag].bytes, (int64_t)n, memory_order_relaxed);
}

int membridge_read_tag_stats(int tag, membridge_tag_stats *out) {
	if (out == NULL || tag < 0 || tag >= membridge_tag_count()) {
		return -1;
	}
	memset(out, 0, sizeof *out);
	for (slot *s = atomic_load_explicit(&slots, memory_order_acquire); s != NULL; s = s->next) {
		out->alloc_bytes += atomic_load_explicit(&s->alloc_bytes[tag], memory_order_relaxed);
		out->alloc_count += atomic_load_explicit(&s->alloc_count[tag], memory_order_relaxed);
		out->freed_bytes += atomic_load_explicit(&s->freed_bytes[tag], memory_order_relaxed);
		out->freed_count += atomic_load_explicit(&s->freed_count[tag], memory_order_relaxed);
	}
	out->live_bytes = atomic_load_explicit(&live[tag].bytes, memory_order_relaxed);
	out->live_count = out->alloc_count - out->freed_count;
	out->peak_bytes = atomic_load_explicit(&live[tag].peak, memory_order_relaxed);
	return 0;
}

/* ---- tracing ---- */

static _Atomic int tracing;
static _Atomic(mb_trace_alloc_fn) trace_alloc;
static _Atomic(mb_trace_free_fn) trace_free;

void mb_bridge_set_trace_hooks(mb_trace_alloc_fn on_alloc, mb_trace_free_fn on_free) {
	atomic_store_explicit(&trace_alloc, on_alloc, memory_order_release);
	atomic_store_explicit(&trace_free, on_free, memory_order_release);
}

void mb_bridge_set_tracing(int on) {
	int ok = atomic_load_explicit(&trace_alloc, memory_order_acquire) != NULL &&
	         atomic_load_explicit(&trace_free, memory_order_acquire) != NULL;
	atomic_store_explicit(&tracing, on && ok, memory_order_release);
}

int mb_bridge_tracing(void) {
	return atomic_load_explicit(&tracing, memory_order_acquire);
}

/* ---- blocks ---- */

static _Noreturn void die(const char *fn, const void *p, const char *what) {
	fprintf(stderr, "membridge: %s(%p): %s\n", fn, p, what);
	fflush(stderr);
	abort();
}

static inline header *header_of(const void *p) {
	return (header *)p - 1;
}

/* check_owner aborts unless the block is one the C side may free or
 * resize, and returns its owner. */
static uint32_t check_owner(const char *fn, const void *p) {
	uint32_t owner = header_of(p)->owner;
	switch (owner) {
	case OWNER_C:
	case OWNER_TRACED:
		return owner;
	case OWNER_LEAVING:
		if (strcmp(fn, "membridge_free") == 0) {
			return owner;
		}
		die(fn, p, "the block is being released by its Go handle's deleter: only membridge_free may take it");
	case OWNER_GO:
		die(fn, p, "the block is owned by a Go handle: free it from Go (Buffer.Free), or hand it to C first");
	}
	die(fn, p, "not a membridge block (foreign pointer, or freed twice)");
	return 0;
}

static void *new_block(int tag, size_t n, int zero, uint32_t owner) {
	if (n > SIZE_MAX - sizeof(header)) {
		return NULL;
	}
	header *h = zero ? calloc(1, sizeof(header) + n) : malloc(sizeof(header) + n);
	if (h == NULL) {
		return NULL;
	}
	h->size = n;
	h->owner = owner;
	h->tag = (uint32_t)tag;
	return h + 1;
}

static void *alloc_counted(int tag, size_t n, int zero) {
	tag = valid_tag(tag);
	if (__builtin_expect(atomic_load_explicit(&tracing, memory_order_relaxed), 0)) {
		void *p = new_block(tag, n, zero, OWNER_TRACED);
		if (p != NULL) {
			atomic_load_explicit(&trace_alloc, memory_order_acquire)(p, n, tag);
		}
		return p;
	}
	void *p = new_block(tag, n, zero, OWNER_C);
	if (p != NULL) {
		count_alloc(tag, n);
	}
	return p;
}

void *membridge_malloc(int tag, size_t n) {
	return alloc_counted(tag, n, 0);
}

void *membridge_calloc(int tag, size_t count, size_t size) {
	size_t n;
	if (__builtin_mul_overflow(count, size, &n)) {
		return NULL;
	}
	return alloc_counted(tag, n, 1);
}

static void end_trace(const char *fn, void *p) {
	if (!atomic_load_explicit(&trace_free, memory_order_acquire)(p)) {
		die(fn, p, "a traced block the Go ledger has no record of (freed twice?)");
	}
}

void membridge_free(void *p) {
	if (p == NULL) {
		return;
	}
	header *h = header_of(p);
	switch (check_owner("membridge_free", p)) {
	case OWNER_TRACED:
		end_trace("membridge_free", p);
		break;
	case OWNER_C:
		count_free((int)h->tag, h->size);
		break;
	}
	h->owner = OWNER_FREED;
	free(h);
}

void *membridge_realloc(int tag, void *p, size_t n) {
	if (p == NULL) {
		return membridge_malloc(tag, n);
	}
	if (n == 0) {
		membridge_free(p);
		return NULL;
	}
	uint32_t owner = check_owner("membridge_realloc", p);
	if (n > SIZE_MAX - sizeof(header)) {
		return NULL;
	}
	header *old = header_of(p);
	size_t old_size = old->size;
	int old_tag = (int)old->tag;
	header *h = realloc(old, sizeof(header) + n);
	if (h == NULL) {
		return NULL;
	}
	tag = valid_tag(tag);
	h->size = n;
	h->tag = (uint32_t)tag;
	/* The block stays in the books it was in. */
	if (owner == OWNER_TRACED) {
		end_trace("membridge_realloc", p);
		atomic_load_explicit(&trace_alloc, memory_order_acquire)(h + 1, n, tag);
	} else {
		count_free(old_tag, old_size);
		count_alloc(tag, n);
	}
	return h + 1;
}

size_t membridge_size(const void *p) {
	if (p == NULL) {
		return 0;
	}
	uint32_t owner = header_of(p)->owner;
	if (owner != OWNER_C && owner != OWNER_TRACED && owner != OWNER_GO) {
		die("membridge_size", p, "not a membridge block (foreign pointer, or freed)");
	}
	return header_of(p)->size;
}

/* ---- the allocator struct ---- */

static int ctx_tag(void *ctx) {
	return (int)(intptr_t)ctx;
}

static void *allocator_malloc(void *ctx, size_t n) {
	return membridge_malloc(ctx_tag(ctx), n);
}

static void *allocator_calloc(void *ctx, size_t count, size_t size) {
	return membridge_calloc(ctx_tag(ctx), count, size);
}

static void *allocator_realloc(void *ctx, void *p, size_t n) {
	return membridge_realloc(ctx_tag(ctx), p, n);
}

static void allocator_free(void *ctx, void *p) {
	(void)ctx;
	membridge_free(p);
}

membridge_allocator membridge_allocator_for(int tag) {
	membridge_allocator a = {
	    .malloc = allocator_malloc,
	    .calloc = allocator_calloc,
	    .realloc = allocator_realloc,
	    .free = allocator_free,
	    .ctx = (void *)(intptr_t)valid_tag(tag),
	};
	return a;
}

/* ---- moves between the C counters and the Go ledger ---- */

static int classify(const void *p) {
	switch (header_of(p)->owner) {
	case OWNER_C:
	case OWNER_TRACED:
		return MB_BRIDGE_C_OWNED;
	case OWNER_GO:
		return MB_BRIDGE_GO_OWNED;
	}
	return MB_BRIDGE_FOREIGN;
}

int mb_bridge_check(const void *p, size_t *size, int *tag) {
	if (p == NULL) {
		return MB_BRIDGE_FOREIGN;
	}
	int r = classify(p);
	if (r != MB_BRIDGE_FOREIGN) {
		*size = header_of(p)->size;
		*tag = (int)header_of(p)->tag;
	}
	return r;
}

int mb_bridge_to_go(void *p, size_t *size, int *tag, int *traced) {
	if (p == NULL) {
		return MB_BRIDGE_FOREIGN;
	}
	int r = classify(p);
	if (r != MB_BRIDGE_C_OWNED) {
		return r;
	}
	header *h = header_of(p);
	*size = h->size;
	*tag = (int)h->tag;
	*traced = h->owner == OWNER_TRACED;
	if (h->owner == OWNER_C) {
		count_free((int)h->tag, h->size);
	}
	h->owner = OWNER_GO;
	return MB_BRIDGE_OK;
}

int mb_bridge_to_c(void *p, int traced) {
	if (p == NULL) {
		return MB_BRIDGE_FOREIGN;
	}
	int r = classify(p);
	if (r != MB_BRIDGE_GO_OWNED) {
		return r;
	}
	header *h = header_of(p);
	if (traced) {
		h->owner = OWNER_TRACED;
	} else {
		h->owner = OWNER_C;
		count_alloc((int)h->tag, h->size);
	}
	return MB_BRIDGE_OK;
}

void *mb_bridge_alloc_for_go(int tag, size_t n, int zero) {
	return new_block(valid_tag(tag), n, zero, OWNER_GO);
}

void mb_bridge_free_go_owned(void *p) {
	if (p == NULL) {
		return;
	}
	header *h = header_of(p);
	if (h->owner != OWNER_GO) {
		die("mb_bridge_free_go_owned", p, "the block is not owned by a Go handle (freed twice, or owned by C)");
	}
	h->owner = OWNER_FREED;
	free(h);
}

void mb_bridge_release_with(void (*deleter)(void *), void *p) {
	if (p == NULL) {
		return;
	}
	header *h = header_of(p);
	if (h->owner != OWNER_GO) {
		die("mb_bridge_release_with", p, "the block is not owned by a Go handle (freed twice, or owned by C)");
	}
	h->owner = OWNER_LEAVING;
	deleter(p);
}
