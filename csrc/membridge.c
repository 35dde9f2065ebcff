/* membridge.c: the C side of membridge (see membridge.h and mb_bridge.h).
 *
 * Accounting without locks or shared writes. An atomic read-modify-write
 * costs about 8 ns here, most of a malloc+free, so the hot path has none:
 * each thread that allocates gets a slot of counters that only it writes
 * (plain loads and stores), and readers sum the slots, which gives exact
 * totals and live bytes. Peaks need a live total at the time of the
 * allocation: each thread publishes its live bytes per tag into one shared
 * atomic every WINDOW_OPS operations or FLUSH_BYTES bytes (see the
 * counters below), and the peak is raised from that total then, and from
 * the exact sum at each read. The peak is therefore exact to within
 * FLUSH_BYTES per thread that allocates the tag.
 *
 * A thread that exits publishes what it holds and gives its slot back (a
 * pthread key destructor); the next new thread reuses it, counts and all,
 * so the sums stay right and slots do not pile up.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mb_bridge.h"
#include "membridge.h"

/* The header before every block: the size, and a mark holding the owner
 * (low 32 bits) and the tag (high 32 bits). owner says which books count
 * the block and doubles as the magic number that recognises a membridge
 * block. The mark is written and read as one 8-byte word: glibc's free
 * reads the same 8 bytes (its tcache key) as one load right after
 * membridge_free writes them, and a load that spans two smaller stores
 * cannot be forwarded from them (a stall of about 10 cycles, a third of a
 * malloc+free). */
typedef struct header {
	uint64_t size;
	uint64_t mark;
} header;

static inline uint32_t owner_of(const header *h) {
	return (uint32_t)h->mark;
}

static inline int tag_of(const header *h) {
	return (int)(h->mark >> 32);
}

static inline void set_mark(header *h, uint32_t owner, int tag) {
	h->mark = (uint64_t)(uint32_t)tag << 32 | owner;
}

static inline void set_owner(header *h, uint32_t owner) {
	set_mark(h, owner, tag_of(h));
}

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
/* fast_tags: allocations with a tag below it take the fast path; it is
 * tag_count, or 0 while tracing (every allocation then goes the slow way).
 * Written under tag_mu. */
static _Atomic int fast_tags = 1;
static _Atomic int tracing;
static pthread_mutex_t tag_mu = PTHREAD_MUTEX_INITIALIZER;

/* fail_allocs: allocations still to fail on purpose (mb_bridge_fail_allocs,
 * fault injection for tests of callers' error paths). While it is
 * positive every allocation takes the slow path, so the fast path pays
 * nothing for it. */
static _Atomic long fail_allocs;

/* set_fast_tags opens the fast path to every registered tag, or closes it
 * while tracing or failing on purpose. Called with tag_mu held. */
static void set_fast_tags(void) {
	int slow = atomic_load_explicit(&tracing, memory_order_relaxed) ||
	           atomic_load_explicit(&fail_allocs, memory_order_relaxed) > 0;
	atomic_store_explicit(&fast_tags, slow ? 0 : atomic_load_explicit(&tag_count, memory_order_relaxed),
	                      memory_order_release);
}

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
		set_fast_tags();
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

/* A thread counts each allocation (and each free) into one word per tag,
 * a window: the count in the high 32 bits, the bytes in the low 32. Stores
 * are what a malloc+free loop is short of, and each counter costs about
 * 0.6 ns there, so the hot path makes exactly one. The window is folded
 * into 64-bit totals, and the thread's live bytes published into the
 * tag's shared total (raising its peak), once it holds WINDOW_OPS
 * operations or FLUSH_BYTES bytes. Blocks of BIG_BYTES or more are
 * counted into the totals at once. */
enum {
	FLUSH_BYTES = 32 << 10,
	WINDOW_OPS = 256,
};
#define BIG_BYTES ((size_t)1 << 31)

typedef struct tag_live {
	_Atomic int64_t bytes; /* published live bytes */
	_Atomic int64_t peak;
	char pad[64 - 2 * sizeof(int64_t)];
} tag_live;

static _Alignas(64) tag_live live[MEMBRIDGE_MAX_TAGS];

/* One thread's counters for one tag; only the owning thread writes them
 * (except in the shared slot). Its live bytes are alloc_bytes -
 * freed_bytes, windows included: negative when it frees what other
 * threads allocated. */
typedef struct tag_counts {
	_Atomic uint64_t alloc_window; /* count << 32 | bytes, since the last fold */
	_Atomic uint64_t freed_window;
	_Atomic int64_t alloc_count, alloc_bytes; /* folded totals */
	_Atomic int64_t freed_count, freed_bytes;
	int64_t published; /* live bytes added to live[tag].bytes; owner only */
	int64_t pad;       /* 64 bytes: one line per tag, a shift to index */
} tag_counts;

_Static_assert(sizeof(tag_counts) == 64, "tag_counts fills a cache line");

typedef struct slot {
	tag_counts tags[MEMBRIDGE_MAX_TAGS];
	struct slot *next; /* never changes once the slot is on the list */
	_Atomic int in_use;
} slot;

/* shared holds the counts of threads that could not get a slot of their
 * own (calloc failed): they add to its totals atomically and publish at
 * once. */
static slot shared = {.in_use = 1};
static _Atomic(slot *) slots = &shared;
/* initial-exec: cgo compiles with -fPIC, where the default TLS model
 * calls __tls_get_addr on every access. membridge.c is linked into the
 * executable (or a library loaded at start), where initial-exec works. */
static __thread slot *my_slot __attribute__((tls_model("initial-exec")));
static pthread_key_t slot_key;
static pthread_once_t slot_key_once = PTHREAD_ONCE_INIT;
static int slot_key_ok;

static void raise_peak(int tag, int64_t now) {
	int64_t peak = atomic_load_explicit(&live[tag].peak, memory_order_relaxed);
	while (now > peak && !atomic_compare_exchange_weak_explicit(&live[tag].peak, &peak, now, memory_order_relaxed,
	                                                            memory_order_relaxed)) {
	}
}

static void publish(int tag, int64_t d) {
	int64_t now = atomic_fetch_add_explicit(&live[tag].bytes, d, memory_order_relaxed) + d;
	if (d > 0) {
		raise_peak(tag, now);
	}
}

/* add updates a counter that only the calling thread writes. */
static inline void add(_Atomic int64_t *c, int64_t d) {
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + d, memory_order_relaxed);
}

/* fold moves a thread's windows of a tag into its totals and publishes
 * the change of its live bytes. The totals are written before the
 * windows are cleared: a reader in between counts the window twice, never
 * zero times. */
__attribute__((noinline)) static void fold(int tag, tag_counts *c) {
	uint64_t a = atomic_load_explicit(&c->alloc_window, memory_order_relaxed);
	uint64_t f = atomic_load_explicit(&c->freed_window, memory_order_relaxed);
	add(&c->alloc_count, (int64_t)(a >> 32));
	add(&c->alloc_bytes, (int64_t)(uint32_t)a);
	add(&c->freed_count, (int64_t)(f >> 32));
	add(&c->freed_bytes, (int64_t)(uint32_t)f);
	atomic_store_explicit(&c->alloc_window, 0, memory_order_relaxed);
	atomic_store_explicit(&c->freed_window, 0, memory_order_relaxed);
	int64_t now = atomic_load_explicit(&c->alloc_bytes, memory_order_relaxed) -
	              atomic_load_explicit(&c->freed_bytes, memory_order_relaxed);
	int64_t d = now - c->published;
	c->published = now;
	if (d != 0) {
		publish(tag, d);
	}
}

static void give_back_slot(void *v) {
	slot *s = v;
	for (int t = 0; t < MEMBRIDGE_MAX_TAGS; t++) {
		fold(t, &s->tags[t]);
	}
	my_slot = NULL;
	atomic_store_explicit(&s->in_use, 0, memory_order_release);
}

static void make_slot_key(void) {
	slot_key_ok = pthread_key_create(&slot_key, give_back_slot) == 0;
}

/* claim_slot gives the calling thread a slot, or returns NULL. */
static slot *claim_slot(void) {
	pthread_once(&slot_key_once, make_slot_key);
	if (!slot_key_ok) {
		return NULL;
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
			return NULL;
		}
		s->in_use = 1;
		s->next = atomic_load_explicit(&slots, memory_order_relaxed);
		while (!atomic_compare_exchange_weak_explicit(&slots, &s->next, s, memory_order_release,
		                                              memory_order_relaxed)) {
		}
	}
	if (pthread_setspecific(slot_key, s) != 0) {
		atomic_store_explicit(&s->in_use, 0, memory_order_release);
		return NULL;
	}
	return my_slot = s;
}

/* count_slow counts for a thread without a slot (it claims one, or counts
 * in the shared slot) and for blocks of BIG_BYTES or more. */
__attribute__((noinline)) static void count_slow(int tag, size_t size, int is_alloc) {
	int64_t n = (int64_t)size;
	slot *s = my_slot != NULL ? my_slot : claim_slot();
	if (s != NULL) {
		tag_counts *c = &s->tags[tag];
		add(is_alloc ? &c->alloc_count : &c->freed_count, 1);
		add(is_alloc ? &c->alloc_bytes : &c->freed_bytes, n);
		fold(tag, c);
		return;
	}
	tag_counts *c = &shared.tags[tag];
	atomic_fetch_add_explicit(is_alloc ? &c->alloc_count : &c->freed_count, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(is_alloc ? &c->alloc_bytes : &c->freed_bytes, n, memory_order_relaxed);
	publish(tag, is_alloc ? n : -n);
}

static inline void count(int tag, size_t size, int is_alloc) {
	slot *s = my_slot;
	if (__builtin_expect(s == NULL || size >= BIG_BYTES, 0)) {
		count_slow(tag, size, is_alloc);
		return;
	}
	tag_counts *c = &s->tags[tag];
	_Atomic uint64_t *w = is_alloc ? &c->alloc_window : &c->freed_window;
	uint64_t v = atomic_load_explicit(w, memory_order_relaxed) + ((uint64_t)1 << 32) + size;
	atomic_store_explicit(w, v, memory_order_relaxed);
	if (__builtin_expect(v >= (uint64_t)WINDOW_OPS << 32 || (uint32_t)v >= FLUSH_BYTES, 0)) {
		fold(tag, c);
	}
}

static inline void count_alloc(int tag, size_t size) {
	count(tag, size, 1);
}

static inline void count_free(int tag, size_t size) {
	count(tag, size, 0);
}

int membridge_read_tag_stats(int tag, membridge_tag_stats *out) {
	if (out == NULL || tag < 0 || tag >= membridge_tag_count()) {
		return -1;
	}
	memset(out, 0, sizeof *out);
	for (slot *s = atomic_load_explicit(&slots, memory_order_acquire); s != NULL; s = s->next) {
		tag_counts *c = &s->tags[tag];
		uint64_t a = atomic_load_explicit(&c->alloc_window, memory_order_relaxed);
		uint64_t f = atomic_load_explicit(&c->freed_window, memory_order_relaxed);
		out->alloc_count += atomic_load_explicit(&c->alloc_count, memory_order_relaxed) + (int64_t)(a >> 32);
		out->alloc_bytes += atomic_load_explicit(&c->alloc_bytes, memory_order_relaxed) + (int64_t)(uint32_t)a;
		out->freed_count += atomic_load_explicit(&c->freed_count, memory_order_relaxed) + (int64_t)(f >> 32);
		out->freed_bytes += atomic_load_explicit(&c->freed_bytes, memory_order_relaxed) + (int64_t)(uint32_t)f;
	}
	out->live_bytes = out->alloc_bytes - out->freed_bytes;
	out->live_count = out->alloc_count - out->freed_count;
	raise_peak(tag, out->live_bytes);
	out->peak_bytes = atomic_load_explicit(&live[tag].peak, memory_order_relaxed);
	return 0;
}

/* ---- tracing ---- */

static _Atomic(mb_trace_alloc_fn) trace_alloc;
static _Atomic(mb_trace_free_fn) trace_free;

void mb_bridge_set_trace_hooks(mb_trace_alloc_fn on_alloc, mb_trace_free_fn on_free) {
	atomic_store_explicit(&trace_alloc, on_alloc, memory_order_release);
	atomic_store_explicit(&trace_free, on_free, memory_order_release);
}

void mb_bridge_set_tracing(int on) {
	int ok = atomic_load_explicit(&trace_alloc, memory_order_acquire) != NULL &&
	         atomic_load_explicit(&trace_free, memory_order_acquire) != NULL;
	pthread_mutex_lock(&tag_mu);
	atomic_store_explicit(&tracing, on && ok, memory_order_release);
	set_fast_tags();
	pthread_mutex_unlock(&tag_mu);
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
	uint32_t owner = owner_of(header_of(p));
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

void mb_bridge_fail_allocs(long n) {
	pthread_mutex_lock(&tag_mu);
	atomic_store_explicit(&fail_allocs, n > 0 ? n : 0, memory_order_relaxed);
	set_fast_tags();
	pthread_mutex_unlock(&tag_mu);
}

/* failing_on_purpose takes one injected failure, if any is left. */
static int failing_on_purpose(void) {
	long left = atomic_load_explicit(&fail_allocs, memory_order_relaxed);
	while (left > 0) {
		if (atomic_compare_exchange_weak_explicit(&fail_allocs, &left, left - 1, memory_order_relaxed,
		                                          memory_order_relaxed)) {
			if (left == 1) {
				pthread_mutex_lock(&tag_mu);
				set_fast_tags();
				pthread_mutex_unlock(&tag_mu);
			}
			return 1;
		}
	}
	return 0;
}

static void *new_block(int tag, size_t n, int zero, uint32_t owner) {
	if (n > SIZE_MAX - sizeof(header) || failing_on_purpose()) {
		return NULL;
	}
	header *h = zero ? calloc(1, sizeof(header) + n) : malloc(sizeof(header) + n);
	if (h == NULL) {
		return NULL;
	}
	h->size = n;
	set_mark(h, owner, tag);
	return h + 1;
}

/* alloc_slow is every allocation but the common one: tracing on, an
 * unregistered tag, zeroed memory, or a size near SIZE_MAX. */
static void *alloc_slow(int tag, size_t n, int zero) {
	tag = valid_tag(tag);
	if (atomic_load_explicit(&tracing, memory_order_relaxed)) {
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

/* fold_then is fold in tail position, so that the fast paths below call
 * nothing but malloc and free and need no saved registers. */
__attribute__((noinline)) static void *fold_then(int tag, tag_counts *c, void *ret) {
	fold(tag, c);
	return ret;
}

/* count_alloc_slow counts an allocation count() would send the slow way. */
__attribute__((noinline)) static void *count_alloc_slow(int tag, size_t n, void *ret) {
	count_slow(tag, n, 1);
	return ret;
}

void *membridge_malloc(int tag, size_t n) {
	if (__builtin_expect((unsigned)tag >= (unsigned)atomic_load_explicit(&fast_tags, memory_order_relaxed) ||
	                         n >= BIG_BYTES,
	                     0)) {
		return alloc_slow(tag, n, 0);
	}
	header *h = malloc(sizeof(header) + n);
	if (h == NULL) {
		return NULL;
	}
	h->size = n;
	set_mark(h, OWNER_C, tag);
	slot *s = my_slot;
	if (__builtin_expect(s == NULL, 0)) {
		return count_alloc_slow(tag, n, h + 1);
	}
	tag_counts *c = &s->tags[tag];
	uint64_t v = atomic_load_explicit(&c->alloc_window, memory_order_relaxed) + ((uint64_t)1 << 32) + n;
	atomic_store_explicit(&c->alloc_window, v, memory_order_relaxed);
	if (__builtin_expect(v >= (uint64_t)WINDOW_OPS << 32 || (uint32_t)v >= FLUSH_BYTES, 0)) {
		return fold_then(tag, c, h + 1);
	}
	return h + 1;
}

void *membridge_calloc(int tag, size_t count, size_t size) {
	size_t n;
	if (__builtin_mul_overflow(count, size, &n)) {
		return NULL;
	}
	return alloc_slow(tag, n, 1);
}

static void end_trace(const char *fn, void *p) {
	if (!atomic_load_explicit(&trace_free, memory_order_acquire)(p)) {
		die(fn, p, "a traced block the Go ledger has no record of (freed twice?)");
	}
}

/* free_slow frees every block but a C-owned one: traced blocks, blocks
 * a Go handle's deleter is releasing, and misuse (which aborts). */
__attribute__((noinline)) static void free_slow(void *p) {
	header *h = header_of(p);
	switch (check_owner("membridge_free", p)) {
	case OWNER_TRACED:
		end_trace("membridge_free", p);
		break;
	case OWNER_C:
		count_free(tag_of(h), h->size);
		break;
	}
	set_owner(h, OWNER_FREED);
	free(h);
}

__attribute__((noinline)) static void fold_then_free(int tag, tag_counts *c, header *h) {
	fold(tag, c);
	free(h);
}

void membridge_free(void *p) {
	if (p == NULL) {
		return;
	}
	header *h = header_of(p);
	uint64_t mark = h->mark;
	size_t n = h->size;
	slot *s = my_slot;
	/* Blocks counted elsewhere (traced, or owned by a Go handle's
	 * deleter), misuse, big blocks and threads without a slot go the slow
	 * way. */
	if (__builtin_expect((uint32_t)mark != OWNER_C || s == NULL || n >= BIG_BYTES, 0)) {
		free_slow(p);
		return;
	}
	int tag = (int)(mark >> 32);
	tag_counts *c = &s->tags[tag];
	uint64_t v = atomic_load_explicit(&c->freed_window, memory_order_relaxed) + ((uint64_t)1 << 32) + n;
	atomic_store_explicit(&c->freed_window, v, memory_order_relaxed);
	/* No OWNER_FREED here: free() itself overwrites the mark (glibc keeps
	 * its free-list links in those 16 bytes), which is what lets a second
	 * membridge_free see a foreign block; an extra store costs time. */
	if (__builtin_expect(v >= (uint64_t)WINDOW_OPS << 32 || (uint32_t)v >= FLUSH_BYTES, 0)) {
		fold_then_free(tag, c, h);
		return;
	}
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
	int old_tag = tag_of(old);
	header *h = realloc(old, sizeof(header) + n);
	if (h == NULL) {
		return NULL;
	}
	tag = valid_tag(tag);
	h->size = n;
	set_mark(h, owner_of(h), tag);
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
	uint32_t owner = owner_of(header_of(p));
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
	switch (owner_of(header_of(p))) {
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
		*tag = tag_of(header_of(p));
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
	*tag = tag_of(h);
	*traced = owner_of(h) == OWNER_TRACED;
	if (owner_of(h) == OWNER_C) {
		count_free(tag_of(h), h->size);
	}
	set_owner(h, OWNER_GO);
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
		set_owner(h, OWNER_TRACED);
	} else {
		set_owner(h, OWNER_C);
		count_alloc(tag_of(h), h->size);
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
	if (owner_of(h) != OWNER_GO) {
		die("mb_bridge_free_go_owned", p, "the block is not owned by a Go handle (freed twice, or owned by C)");
	}
	set_owner(h, OWNER_FREED);
	free(h);
}

void mb_bridge_release_with(void (*deleter)(void *), void *p) {
	if (p == NULL) {
		return;
	}
	header *h = header_of(p);
	if (owner_of(h) != OWNER_GO) {
		die("mb_bridge_release_with", p, "the block is not owned by a Go handle (freed twice, or owned by C)");
	}
	set_owner(h, OWNER_LEAVING);
	deleter(p);
}
