/* membridge.c: the C side of membridge (see membridge.h and mb_bridge.h).
 *
 * Two parts: the table of live blocks (below, "the table of blocks"),
 * which recognises every pointer handed back, and the counters.
 *
 * Accounting without locks or shared writes: a shared counter that every
 * thread adds to moves its cache line between cores at each operation, so
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
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mb_bridge.h"
#include "mb_small.h"
#include "membridge.h"

/* Who counts a live block, as kept in the table of blocks (below). */
enum {
	OWNER_C = 1,   /* counted by the C counters */
	OWNER_TRACED,  /* counted by a Go ledger record (tracing) */
	OWNER_GO,      /* owned by a Go handle, counted by the ledger */
	OWNER_LEAVING, /* a Go handle ended; its deleter is freeing it */
	OWNER_MOVING   /* membridge_realloc is moving it */
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

/* ---- the table of blocks ----
 *
 * Every live block is an entry in a table kept apart from the block, not
 * a header in front of it: the allocator owns a freed block's memory and
 * writes its own lists there (glibc's tcache links and key, its bins'
 * links, merged neighbours; an unmapped block has no memory at all), so a
 * header cannot tell a live block from a freed one, and reading it may
 * fault. The table is keyed by address; misuse is caught before anything
 * reads or frees the block, and a freed block's entry stays (as freed)
 * until malloc gives the address out again or the shard is rehashed, so
 * a second free can name the block.
 *
 * The table is split into shards by the 64 KiB region of the address:
 * blocks of one malloc arena, mostly one thread's, share shards, so a
 * shard's lock is rarely wanted by two threads at once. Each shard is an
 * open-addressing hash table under a spin lock taken for a few probes
 * (one atomic exchange; the release is a plain store). Keys are stored
 * inverted (~p), so leak checkers (valgrind, LeakSanitizer) do not take
 * the table for a reference to the block. */

/* MAX_BLOCK bounds a block's size: it is packed into 48 bits of an entry,
 * and no allocator can give more on a 64-bit machine. */
#define MAX_BLOCK (((size_t)1 << 48) - 1)

typedef struct entry {
	uint64_t key; /* 0: empty; ~p: live block p; ~p without its top bit: freed block p */
	uint64_t val; /* size << 16 | tag << 8 | owner */
} entry;

typedef struct shard {
	_Atomic int lock;
	entry *t;
	size_t mask; /* slots - 1; t == NULL: no slots yet */
	size_t used; /* slots not empty (live or freed) */
	size_t live;
	char pad[64 - sizeof(_Atomic int) - sizeof(entry *) - 3 * sizeof(size_t) - 4];
} shard;

_Static_assert(sizeof(shard) == 64, "a shard fills a cache line");

#define SHARD_BITS 8
static _Alignas(64) shard shards[1 << SHARD_BITS];

static inline uint64_t live_key(const void *p) {
	return ~(uint64_t)(uintptr_t)p;
}

/* Block addresses are below 2^62 (user space), so a live key has its top
 * two bits set, a freed key (the same without the top bit) only the
 * second, and neither is 0. */
static inline uint64_t freed_key(const void *p) {
	return live_key(p) & ~((uint64_t)1 << 63);
}

static inline int is_live_key(uint64_t k) {
	return (int)(k >> 63);
}

/* could_be_block rules out what no allocator returns and the keys above
 * cannot hold: NULL and addresses from 2^62 up (the kernel's half). */
static inline int could_be_block(const void *p) {
	return (uintptr_t)p != 0 && ((uintptr_t)p >> 62) == 0;
}

static inline uint64_t make_val(size_t size, int tag, int owner) {
	return (uint64_t)size << 16 | (uint64_t)(unsigned)tag << 8 | (unsigned)owner;
}

static inline size_t val_size(uint64_t v) {
	return (size_t)(v >> 16);
}

static inline int val_tag(uint64_t v) {
	return (int)(v >> 8 & 0xff);
}

static inline int val_owner(uint64_t v) {
	return (int)(v & 0xff);
}

/* small_val is a live small block's word as a table entry's value. */
static inline uint64_t small_val(uint32_t w) {
	return make_val(mb_word_size(w), mb_word_tag(w), mb_word_owner(w));
}

/* small_freed is the word of a small block once freed: its tag and size
 * stay, for the message a second free gets. */
static inline uint32_t small_freed(uint32_t w) {
	return w & ~MB_WORD_LIVE;
}

static inline int small_live(uint32_t w) {
	return (int)(w >> 31);
}

static inline uint64_t mix(uint64_t x) {
	return x * 0x9e3779b97f4a7c15ull;
}

static inline shard *shard_of(const void *p) {
	return &shards[mix((uintptr_t)p >> 16) >> (64 - SHARD_BITS)];
}

static inline size_t slot_of(const shard *sh, const void *p) {
	return (size_t)(mix((uintptr_t)p >> 4) >> 32) & sh->mask;
}

__attribute__((noinline)) static void lock_slow(shard *sh) {
	for (int spins = 0;; spins++) {
		if (atomic_load_explicit(&sh->lock, memory_order_relaxed) == 0 &&
		    atomic_exchange_explicit(&sh->lock, 1, memory_order_acquire) == 0) {
			return;
		}
		if (spins >= 64) {
			sched_yield();
		}
	}
}

static inline void lock(shard *sh) {
	if (__builtin_expect(atomic_exchange_explicit(&sh->lock, 1, memory_order_acquire) != 0, 0)) {
		lock_slow(sh);
	}
}

static inline void unlock(shard *sh) {
	atomic_store_explicit(&sh->lock, 0, memory_order_release);
}

/* find returns p's live entry, or NULL; *freed is set to p's freed entry
 * when there is one. Called with the shard locked. */
static inline entry *find(shard *sh, const void *p, entry **freed) {
	if (sh->t == NULL || !could_be_block(p)) {
		return NULL;
	}
	uint64_t k = live_key(p), fk = freed_key(p);
	for (size_t i = slot_of(sh, p);; i = (i + 1) & sh->mask) {
		entry *e = &sh->t[i];
		if (e->key == k) {
			return e;
		}
		if (e->key == 0) {
			return NULL;
		}
		if (e->key == fk && freed != NULL) {
			*freed = e;
		}
	}
}

/* A fork while another thread holds a shard's lock would leave the lock
 * held forever in the child: the shards are locked around fork, as
 * malloc's arenas are. (Go's os/exec does not run these: it forks with
 * a system call, and the child only execs.) */
static void lock_all(void) {
	for (size_t s = 0; s < sizeof shards / sizeof shards[0]; s++) {
		lock(&shards[s]);
	}
}

static void unlock_all(void) {
	for (size_t s = 0; s < sizeof shards / sizeof shards[0]; s++) {
		unlock(&shards[s]);
	}
}

static pthread_once_t fork_once = PTHREAD_ONCE_INIT;

static void lock_around_fork(void) {
	pthread_atfork(lock_all, unlock_all, unlock_all);
}

/* rehash moves the live entries into a table with room for growth and
 * drops the freed ones; 0 when memory ran out (the table is unchanged). */
__attribute__((noinline)) static int rehash(shard *sh) {
	pthread_once(&fork_once, lock_around_fork);
	/* At most half full after a rehash, three quarters before the next:
	 * 16-byte slots make that 21 to 64 bytes of table per live block. */
	size_t slots = 16;
	while (slots < 2 * (sh->live + 1)) {
		slots *= 2;
	}
	entry *t = calloc(slots, sizeof *t);
	if (t == NULL) {
		return 0;
	}
	entry *old = sh->t;
	size_t old_slots = old == NULL ? 0 : sh->mask + 1;
	sh->t = t;
	sh->mask = slots - 1;
	sh->used = sh->live;
	for (size_t j = 0; j < old_slots; j++) {
		if (is_live_key(old[j].key)) {
			void *p = (void *)(uintptr_t)~old[j].key;
			size_t i = slot_of(sh, p);
			while (t[i].key != 0) {
				i = (i + 1) & sh->mask;
			}
			t[i] = old[j];
		}
	}
	free(old);
	return 1;
}

enum insert_result { INSERTED, NO_MEMORY, STILL_LIVE };

/* insert makes p a live block with val. A live entry for p can only be
 * one membridge_realloc is moving away from p (malloc gave p out again in
 * between) or a block freed behind membridge's back: STILL_LIVE, with
 * *was set to it, for the second. Called with the shard locked. */
static inline int insert(shard *sh, const void *p, uint64_t val, uint64_t *was) {
	if (__builtin_expect(sh->t == NULL || (sh->used + 1) * 4 > (sh->mask + 1) * 3, 0) && !rehash(sh)) {
		return NO_MEMORY;
	}
	uint64_t k = live_key(p), fk = freed_key(p);
	for (size_t i = slot_of(sh, p);; i = (i + 1) & sh->mask) {
		entry *e = &sh->t[i];
		if (e->key == 0 || e->key == fk) {
			sh->used += e->key == 0;
			sh->live++;
			e->val = val;
			e->key = k;
			return INSERTED;
		}
		if (e->key == k) {
			if (val_owner(e->val) != OWNER_MOVING) {
				*was = e->val;
				return STILL_LIVE;
			}
			e->val = val;
			return INSERTED;
		}
	}
}

/* ---- blocks ---- */

static const char *owner_words(int owner) {
	switch (owner) {
	case OWNER_GO:
		return "the block is owned by a Go handle: free it from Go (Buffer.Free), or hand it to C first";
	case OWNER_LEAVING:
		return "the block is being released by its Go handle's deleter: only membridge_free may take it";
	case OWNER_MOVING:
		return "the block is being moved by membridge_realloc on another thread";
	}
	return "the block may not be taken here";
}

static const char *tag_words(int tag) {
	return tag >= 0 && tag < membridge_tag_count() ? tag_names[tag] : "?";
}

/* die reports misuse of block p and aborts. what follows the block's
 * description when val describes it (val != 0). */
static _Noreturn void die_block(const char *fn, const void *p, const char *what, uint64_t val) {
	if (val != 0) {
		fprintf(stderr, "membridge: %s(%p): %s (the block: tag \"%s\", %zu bytes)\n", fn, p, what,
		        tag_words(val_tag(val)), val_size(val));
	} else {
		fprintf(stderr, "membridge: %s(%p): %s\n", fn, p, what);
	}
	fflush(stderr);
	abort();
}

static _Noreturn void die(const char *fn, const void *p, const char *what) {
	die_block(fn, p, what, 0);
}

/* containing finds the live block p points into, for a message. It reads
 * every shard (the process is about to abort). */
static int containing(const void *p, uintptr_t *start, uint64_t *val) {
	uintptr_t a = (uintptr_t)p;
	int found = 0;
	for (size_t s = 0; s < sizeof shards / sizeof shards[0] && !found; s++) {
		shard *sh = &shards[s];
		lock(sh);
		for (size_t i = 0; sh->t != NULL && i <= sh->mask; i++) {
			uint64_t k = sh->t[i].key;
			uintptr_t b = (uintptr_t)~k;
			if (is_live_key(k) && b < a && a - b < val_size(sh->t[i].val)) {
				*start = b;
				*val = sh->t[i].val;
				found = 1;
				break;
			}
		}
		unlock(sh);
	}
	return found;
}

/* misuse aborts with what is wrong with p, a pointer fn was given that
 * is not a live block fn may take. */
static _Noreturn void misuse_small(const char *fn, const void *p);

static _Noreturn void misuse(const char *fn, const void *p) {
	if (mb_small_owns(p)) {
		misuse_small(fn, p);
	}
	shard *sh = shard_of(p);
	entry *freed = NULL;
	lock(sh);
	entry *e = find(sh, p, &freed);
	uint64_t live = e != NULL ? e->val : 0, gone = freed != NULL ? freed->val : 0;
	unlock(sh);
	if (live != 0) {
		die_block(fn, p, owner_words(val_owner(live)), live);
	}
	if (gone != 0) {
		die_block(fn, p, "freed already (a second free, or a use after free)", gone);
	}
	uintptr_t start;
	uint64_t val;
	if (containing(p, &start, &val)) {
		char what[96];
		snprintf(what, sizeof what, "%zu bytes into the block at %p, not its start",
		         (size_t)((uintptr_t)p - start), (void *)start);
		die_block(fn, p, what, val);
	}
	die(fn, p, "not a membridge block (a foreign pointer, or a block freed long ago)");
}

/* misuse_small is misuse for an address in the region of small blocks. */
static _Noreturn void misuse_small(const char *fn, const void *p) {
	mb_span *s;
	_Atomic uint32_t *w = mb_small_word(p, &s);
	if (w != NULL) {
		uint32_t v = atomic_load_explicit(w, memory_order_acquire);
		if (small_live(v)) {
			die_block(fn, p, owner_words(mb_word_owner(v)), small_val(v));
		}
		if (v & MB_WORD_USED) {
			die_block(fn, p, "freed already (a second free, or a use after free)", small_val(v));
		}
	} else if (s != NULL && (uintptr_t)p > s->first - MB_GUARD) {
		uintptr_t i = ((uintptr_t)p - (s->first - MB_GUARD)) / s->stride;
		uintptr_t start = s->first + i * s->stride;
		uint32_t v = i < s->nblocks ? atomic_load_explicit(&s->words[i], memory_order_acquire) : 0;
		if ((uintptr_t)p > start && small_live(v)) {
			char what[96];
			snprintf(what, sizeof what, "%zu bytes into the block at %p, not its start",
			         (size_t)((uintptr_t)p - start), (void *)start);
			die_block(fn, p, what, small_val(v));
		}
	}
	die(fn, p, "not a membridge block (a foreign pointer, or a block freed long ago)");
}

/* small_take is take for a small block. */
static uint64_t small_take(const char *fn, void *p, unsigned allowed) {
	mb_span *s;
	_Atomic uint32_t *w = mb_small_word(p, &s);
	uint32_t v = w != NULL ? atomic_load_explicit(w, memory_order_acquire) : 0;
	for (;;) {
		if (!small_live(v) || !(allowed >> mb_word_owner(v) & 1)) {
			misuse(fn, p);
		}
		if (atomic_compare_exchange_weak_explicit(w, &v, small_freed(v), memory_order_acq_rel,
		                                          memory_order_acquire)) {
			return small_val(v);
		}
	}
}

/* raw_free gives a block whose entry or word says freed back to where it
 * came from. */
static void raw_free(void *p) {
	if (mb_small_owns(p)) {
		mb_span *s;
		mb_small_word(p, &s);
		mb_small_give_back(p, s->cls);
		return;
	}
	free(p);
}

/* track enters p, just allocated, in the table; 0 when the table has no
 * memory left (the caller frees p and fails). */
static int track(const char *fn, void *p, uint64_t val) {
	shard *sh = shard_of(p);
	uint64_t was = 0;
	lock(sh);
	int r = insert(sh, p, val, &was);
	unlock(sh);
	if (__builtin_expect(r == STILL_LIVE, 0)) {
		die_block(fn, p,
		          "malloc returned this address, which is still a live membridge block: it was freed with "
		          "free() or realloc() instead of membridge_free",
		          was);
	}
	return r == INSERTED;
}

/* take ends p's life as a block whose owner is one of those in allowed (a
 * bit per owner) and returns its entry's value; anything else aborts. */
static uint64_t take(const char *fn, void *p, unsigned allowed) {
	if (mb_small_owns(p)) {
		return small_take(fn, p, allowed);
	}
	shard *sh = shard_of(p);
	lock(sh);
	entry *e = find(sh, p, NULL);
	if (e == NULL || !(allowed >> val_owner(e->val) & 1)) {
		unlock(sh);
		misuse(fn, p);
	}
	uint64_t v = e->val;
	e->key = freed_key(p);
	sh->live--;
	unlock(sh);
	return v;
}

/* change replaces the value of p's live entry, when its owner is one of
 * allowed, with next(value, arg), and returns the value it had; 0 when p
 * is no such block. */
static uint64_t change(void *p, unsigned allowed, uint64_t (*next)(uint64_t old, uint64_t arg), uint64_t arg) {
	if (mb_small_owns(p)) {
		mb_span *s;
		_Atomic uint32_t *w = mb_small_word(p, &s);
		uint32_t v = w != NULL ? atomic_load_explicit(w, memory_order_acquire) : 0;
		for (;;) {
			if (!small_live(v) || !(allowed >> mb_word_owner(v) & 1)) {
				return 0;
			}
			uint64_t nv = next(small_val(v), arg);
			if (atomic_compare_exchange_weak_explicit(w, &v, mb_word(val_size(nv), val_tag(nv), val_owner(nv)),
			                                          memory_order_acq_rel, memory_order_acquire)) {
				return small_val(v);
			}
		}
	}
	shard *sh = shard_of(p);
	lock(sh);
	entry *e = find(sh, p, NULL);
	uint64_t v = 0;
	if (e != NULL && (allowed >> val_owner(e->val) & 1)) {
		v = e->val;
		e->val = next(v, arg);
	}
	unlock(sh);
	return v;
}

/* peek returns p's live entry's value, or 0. */
static uint64_t peek(const void *p) {
	if (mb_small_owns(p)) {
		mb_span *s;
		_Atomic uint32_t *w = mb_small_word(p, &s);
		uint32_t v = w != NULL ? atomic_load_explicit(w, memory_order_acquire) : 0;
		return small_live(v) ? small_val(v) : 0;
	}
	shard *sh = shard_of(p);
	lock(sh);
	entry *e = find(sh, p, NULL);
	uint64_t v = e != NULL ? e->val : 0;
	unlock(sh);
	return v;
}

static uint64_t with_owner(uint64_t old, uint64_t owner) {
	return (old & ~(uint64_t)0xff) | owner;
}

static uint64_t replaced(uint64_t old, uint64_t val) {
	(void)old;
	return val;
}

#define ALLOW(o) (1u << (o))

void mb_bridge_set_checking(int on) {
	mb_small_set_checking(on);
}

int mb_bridge_checking(void) {
	return !mb_small_on();
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

static void *no_memory(void) {
	errno = ENOMEM;
	return NULL;
}

static void *new_block(const char *fn, int tag, size_t n, int zero, int owner) {
	if (n > MAX_BLOCK || failing_on_purpose()) {
		return no_memory();
	}
	if (n <= MB_SMALL_MAX && mb_small_on()) {
		void *p = mb_small_alloc(n, zero, mb_word(n, tag, owner));
		if (p != NULL) {
			return p;
		}
	}
	void *p = zero ? calloc(1, n) : malloc(n);
	if (p == NULL) {
		return no_memory();
	}
	if (!track(fn, p, make_val(n, tag, owner))) {
		free(p);
		return no_memory();
	}
	return p;
}

/* alloc_slow is every allocation but the common one: tracing on, an
 * unregistered tag, zeroed memory, or a size of BIG_BYTES or more. */
static void *alloc_slow(const char *fn, int tag, size_t n, int zero) {
	tag = valid_tag(tag);
	if (atomic_load_explicit(&tracing, memory_order_relaxed)) {
		void *p = new_block(fn, tag, n, zero, OWNER_TRACED);
		if (p != NULL) {
			atomic_load_explicit(&trace_alloc, memory_order_acquire)(p, n, tag);
		}
		return p;
	}
	void *p = new_block(fn, tag, n, zero, OWNER_C);
	if (p != NULL) {
		count_alloc(tag, n);
	}
	return p;
}

/* fold_then is fold in tail position, so that the fast paths below call
 * little but malloc and free. */
__attribute__((noinline)) static void *fold_then(int tag, tag_counts *c, void *ret) {
	fold(tag, c);
	return ret;
}

/* count_alloc_slow counts an allocation count() would send the slow way. */
__attribute__((noinline)) static void *count_alloc_slow(int tag, size_t n, void *ret) {
	count_slow(tag, n, 1);
	return ret;
}

__attribute__((noinline)) static void *untracked(void *p) {
	free(p);
	return no_memory();
}

/* malloc_general is membridge_malloc past its fast path: blocks from
 * malloc, a thread without a cache or slot, a cache to refill, counters
 * to fold. */
__attribute__((noinline)) static void *malloc_general(int tag, size_t n) {
	if (__builtin_expect((unsigned)tag >= (unsigned)atomic_load_explicit(&fast_tags, memory_order_relaxed) ||
	                         n >= BIG_BYTES,
	                     0)) {
		return alloc_slow("membridge_malloc", tag, n, 0);
	}
	void *p;
	if (n <= MB_SMALL_MAX && mb_small_on()) {
		p = mb_small_take_cached(mb_small_class(n));
		if (p == NULL) {
			return alloc_slow("membridge_malloc", tag, n, 0);
		}
		atomic_store_explicit(mb_small_word_of(p), mb_word(n, tag, OWNER_C), memory_order_release);
	} else {
		p = malloc(n);
		if (p == NULL) {
			return NULL;
		}
		if (__builtin_expect(!track("membridge_malloc", p, make_val(n, tag, OWNER_C)), 0)) {
			return untracked(p);
		}
	}
	slot *s = my_slot;
	if (__builtin_expect(s == NULL, 0)) {
		return count_alloc_slow(tag, n, p);
	}
	tag_counts *c = &s->tags[tag];
	uint64_t v = atomic_load_explicit(&c->alloc_window, memory_order_relaxed) + ((uint64_t)1 << 32) + n;
	atomic_store_explicit(&c->alloc_window, v, memory_order_relaxed);
	if (__builtin_expect(v >= (uint64_t)WINDOW_OPS << 32 || (uint32_t)v >= FLUSH_BYTES, 0)) {
		return fold_then(tag, c, p);
	}
	return p;
}

/* membridge_malloc's fast path calls nothing, so it saves no registers:
 * a small block from the thread's cache, its word set, one counter
 * store. Everything else is a tail call. */
void *membridge_malloc(int tag, size_t n) {
	mb_cache *mc = mb_my_cache;
	slot *s = my_slot;
	if (__builtin_expect(n > MB_SMALL_MAX || mc == NULL || s == NULL ||
	                         (unsigned)tag >= (unsigned)atomic_load_explicit(&fast_tags, memory_order_relaxed) ||
	                         atomic_load_explicit(&mb_small_state, memory_order_relaxed) != 1,
	                     0)) {
		return malloc_general(tag, n);
	}
	int cls = mb_small_class(n);
	uint32_t have = mc->n[cls];
	tag_counts *c = &s->tags[tag];
	uint64_t v = atomic_load_explicit(&c->alloc_window, memory_order_relaxed) + ((uint64_t)1 << 32) + n;
	if (__builtin_expect(have == 0 || v >= (uint64_t)WINDOW_OPS << 32 || (uint32_t)v >= FLUSH_BYTES, 0)) {
		return malloc_general(tag, n);
	}
	void *p = mc->blocks[cls][have - 1];
	mc->n[cls] = have - 1;
	atomic_store_explicit(mb_small_word_of(p), mb_word(n, tag, OWNER_C), memory_order_release);
	atomic_store_explicit(&c->alloc_window, v, memory_order_relaxed);
	return p;
}

void *membridge_calloc(int tag, size_t count, size_t size) {
	size_t n;
	if (__builtin_mul_overflow(count, size, &n)) {
		return no_memory();
	}
	return alloc_slow("membridge_calloc", tag, n, 1);
}

static void end_trace(const char *fn, void *p, uint64_t val) {
	if (!atomic_load_explicit(&trace_free, memory_order_acquire)(p)) {
		die_block(fn, p, "a traced block the Go ledger has no record of", val);
	}
}

/* release frees block p for fn once take has ended its entry. */
static void release(const char *fn, void *p, uint64_t v) {
	switch (val_owner(v)) {
	case OWNER_TRACED:
		end_trace(fn, p, v);
		break;
	case OWNER_C:
		count_free(val_tag(v), val_size(v));
		break;
	}
	raw_free(p);
}

/* free_slow frees every block but a C-owned one on a thread with a slot:
 * traced blocks, blocks a Go handle's deleter is releasing, big blocks,
 * and misuse (which aborts). */
__attribute__((noinline)) static void free_slow(void *p) {
	release("membridge_free", p,
	        take("membridge_free", p, ALLOW(OWNER_C) | ALLOW(OWNER_TRACED) | ALLOW(OWNER_LEAVING)));
}

__attribute__((noinline)) static void fold_then_free(int tag, tag_counts *c, void *p) {
	fold(tag, c);
	free(p);
}

/* free_general is membridge_free past its fast path. */
__attribute__((noinline)) static void free_general(void *p) {
	if (p == NULL) {
		return;
	}
	slot *s = my_slot;
	if (mb_small_owns(p)) {
		mb_span *sp;
		_Atomic uint32_t *w = mb_small_word(p, &sp);
		uint32_t old = w != NULL ? atomic_load_explicit(w, memory_order_relaxed) : 0;
		/* A live block C owns, on a thread with a slot; anything else (and
		 * a race lost to another change of the word) goes the slow way. */
		if (__builtin_expect((old >> 24) != (mb_word(0, 0, OWNER_C) >> 24) || s == NULL ||
		                         !atomic_compare_exchange_strong_explicit(w, &old, small_freed(old),
		                                                                  memory_order_acq_rel, memory_order_relaxed),
		                     0)) {
			free_slow(p);
			return;
		}
		mb_small_give_back(p, sp->cls);
		int tag = mb_word_tag(old);
		tag_counts *c = &s->tags[tag];
		uint64_t v = atomic_load_explicit(&c->freed_window, memory_order_relaxed) + ((uint64_t)1 << 32) +
		             mb_word_size(old);
		atomic_store_explicit(&c->freed_window, v, memory_order_relaxed);
		if (__builtin_expect(v >= (uint64_t)WINDOW_OPS << 32 || (uint32_t)v >= FLUSH_BYTES, 0)) {
			fold(tag, c);
		}
		return;
	}
	shard *sh = shard_of(p);
	lock(sh);
	entry *e = find(sh, p, NULL);
	uint64_t val = e != NULL ? e->val : 0;
	size_t n = val_size(val);
	/* Blocks counted elsewhere (traced, or owned by a Go handle's
	 * deleter), misuse, big blocks and threads without a slot go the slow
	 * way. */
	if (__builtin_expect(val_owner(val) != OWNER_C || s == NULL || n >= BIG_BYTES, 0)) {
		unlock(sh);
		free_slow(p);
		return;
	}
	e->key = freed_key(p);
	sh->live--;
	unlock(sh);
	int tag = val_tag(val);
	tag_counts *c = &s->tags[tag];
	uint64_t v = atomic_load_explicit(&c->freed_window, memory_order_relaxed) + ((uint64_t)1 << 32) + n;
	atomic_store_explicit(&c->freed_window, v, memory_order_relaxed);
	if (__builtin_expect(v >= (uint64_t)WINDOW_OPS << 32 || (uint32_t)v >= FLUSH_BYTES, 0)) {
		fold_then_free(tag, c, p);
		return;
	}
	free(p);
}

/* membridge_free's fast path, like membridge_malloc's, calls nothing: a
 * live small block C owns, its word changed by one compare-and-swap, the
 * block onto the thread's cache, one counter store. */
void membridge_free(void *p) {
	mb_cache *mc = mb_my_cache;
	slot *s = my_slot;
	if (__builtin_expect(!mb_small_owns(p) || mc == NULL || s == NULL, 0)) {
		free_general(p);
		return;
	}
	mb_span *sp;
	_Atomic uint32_t *w = mb_small_word(p, &sp);
	uint32_t old = w != NULL ? atomic_load_explicit(w, memory_order_relaxed) : 0;
	int cls = sp != NULL ? sp->cls : 0;
	tag_counts *c = &s->tags[mb_word_tag(old)];
	uint64_t v = atomic_load_explicit(&c->freed_window, memory_order_relaxed) + ((uint64_t)1 << 32) +
	             mb_word_size(old);
	if (__builtin_expect((old >> 24) != (mb_word(0, 0, OWNER_C) >> 24) || mc->n[cls] == MB_SMALL_CACHE ||
	                         v >= (uint64_t)WINDOW_OPS << 32 || (uint32_t)v >= FLUSH_BYTES,
	                     0)) {
		free_general(p);
		return;
	}
	if (__builtin_expect(!atomic_compare_exchange_strong_explicit(w, &old, small_freed(old), memory_order_acq_rel,
	                                                              memory_order_relaxed),
	                     0)) {
		free_general(p); /* the word changed under us: the slow path says why */
		return;
	}
	mc->blocks[cls][mc->n[cls]++] = p;
	atomic_store_explicit(&c->freed_window, v, memory_order_relaxed);
}

/* realloc_small moves small block p (its word says moving, old before)
 * to a new block of n bytes entered with val, and frees p; NULL when no
 * memory (p is unchanged). */
static void *realloc_small(void *p, size_t n, uint64_t old, uint64_t val) {
	void *q = new_block("membridge_realloc", val_tag(val), n, 0, val_owner(val));
	if (q == NULL) {
		return NULL;
	}
	size_t keep = val_size(old) < n ? val_size(old) : n;
	memcpy(q, p, keep);
	change(p, ALLOW(OWNER_MOVING), replaced, old);
	take("membridge_realloc", p, ALLOW(val_owner(old)));
	raw_free(p);
	return q;
}

/* finish_move ends membridge_realloc's move of the entry for the block
 * at from, to q with val (q == NULL: the move failed and the block keeps
 * old). from is an address, not a pointer: realloc may have freed it. */
static void finish_move(uintptr_t from, void *q, uint64_t old, uint64_t val) {
	void *p = (void *)from;
	if (q == NULL || q == p) {
		change(p, ALLOW(OWNER_MOVING), replaced, q == NULL ? old : val);
		return;
	}
	/* p's entry goes (unless malloc has given p out again and its new
	 * owner's entry replaced it), then q's comes. */
	shard *sh = shard_of(p);
	lock(sh);
	entry *e = find(sh, p, NULL);
	if (e != NULL && val_owner(e->val) == OWNER_MOVING) {
		e->key = freed_key(p);
		e->val = old;
		sh->live--;
	}
	unlock(sh);
	if (!track("membridge_realloc", q, val)) {
		/* The moved contents are in q and p is gone: there is no block
		 * left to give back on failure. */
		die_block("membridge_realloc", q, "out of memory for membridge's table of blocks", val);
	}
}

void *membridge_realloc(int tag, void *p, size_t n) {
	if (p == NULL) {
		return membridge_malloc(tag, n);
	}
	if (n == 0) {
		release("membridge_realloc", p,
		        take("membridge_realloc", p, ALLOW(OWNER_C) | ALLOW(OWNER_TRACED)));
		return NULL;
	}
	uint64_t old = change(p, ALLOW(OWNER_C) | ALLOW(OWNER_TRACED), with_owner, OWNER_MOVING);
	if (old == 0) {
		misuse("membridge_realloc", p);
	}
	if (n > MAX_BLOCK || failing_on_purpose()) {
		finish_move((uintptr_t)p, NULL, old, 0);
		return no_memory();
	}
	int owner = val_owner(old);
	tag = valid_tag(tag);
	/* A traced block's record ends before realloc can give its address
	 * to another thread, whose record would otherwise be ended here. */
	if (owner == OWNER_TRACED) {
		end_trace("membridge_realloc", p, old);
	}
	uintptr_t from = (uintptr_t)p;
	void *q = mb_small_owns(p) ? realloc_small(p, n, old, make_val(n, tag, owner)) : realloc(p, n);
	if (q == NULL) {
		finish_move((uintptr_t)p, NULL, old, 0);
		if (owner == OWNER_TRACED) {
			atomic_load_explicit(&trace_alloc, memory_order_acquire)(p, val_size(old), val_tag(old));
		}
		return no_memory();
	}
	if (!mb_small_owns((void *)from)) {
		finish_move(from, q, old, make_val(n, tag, owner));
	}
	/* The block stays in the books it was in. */
	if (owner == OWNER_TRACED) {
		atomic_load_explicit(&trace_alloc, memory_order_acquire)(q, n, tag);
	} else {
		count_free(val_tag(old), val_size(old));
		count_alloc(tag, n);
	}
	return q;
}

size_t membridge_size(const void *p) {
	if (p == NULL) {
		return 0;
	}
	uint64_t v = peek(p);
	if (v == 0) {
		misuse("membridge_size", p);
	}
	return val_size(v);
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

static int classify(uint64_t v) {
	switch (val_owner(v)) {
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
	uint64_t v = peek(p);
	int r = classify(v);
	if (r != MB_BRIDGE_FOREIGN) {
		*size = val_size(v);
		*tag = val_tag(v);
	}
	return r;
}

int mb_bridge_to_go(void *p, size_t *size, int *tag, int *traced) {
	if (p == NULL) {
		return MB_BRIDGE_FOREIGN;
	}
	uint64_t v = change(p, ALLOW(OWNER_C) | ALLOW(OWNER_TRACED), with_owner, OWNER_GO);
	if (v == 0) {
		return classify(peek(p)) == MB_BRIDGE_GO_OWNED ? MB_BRIDGE_GO_OWNED : MB_BRIDGE_FOREIGN;
	}
	*size = val_size(v);
	*tag = val_tag(v);
	*traced = val_owner(v) == OWNER_TRACED;
	if (val_owner(v) == OWNER_C) {
		count_free(val_tag(v), val_size(v));
	}
	return MB_BRIDGE_OK;
}

int mb_bridge_to_c(void *p, int traced) {
	if (p == NULL) {
		return MB_BRIDGE_FOREIGN;
	}
	uint64_t v = change(p, ALLOW(OWNER_GO), with_owner, traced ? OWNER_TRACED : OWNER_C);
	if (v == 0) {
		return classify(peek(p));
	}
	if (!traced) {
		count_alloc(val_tag(v), val_size(v));
	}
	return MB_BRIDGE_OK;
}

void *mb_bridge_alloc_for_go(int tag, size_t n, int zero) {
	return new_block("mb_bridge_alloc_for_go", valid_tag(tag), n, zero, OWNER_GO);
}

/* take_go_owned is take for the functions that end a Go handle's
 * ownership, with their own message for a block Go does not own. */
static uint64_t take_go_owned(const char *fn, void *p, int leave) {
	uint64_t v = leave ? change(p, ALLOW(OWNER_GO), with_owner, OWNER_LEAVING) : 0;
	if (!leave && mb_small_owns(p)) {
		mb_span *s;
		_Atomic uint32_t *w = mb_small_word(p, &s);
		uint32_t old = w != NULL ? atomic_load_explicit(w, memory_order_acquire) : 0;
		while (small_live(old) && mb_word_owner(old) == OWNER_GO) {
			if (atomic_compare_exchange_weak_explicit(w, &old, small_freed(old), memory_order_acq_rel,
			                                          memory_order_acquire)) {
				v = small_val(old);
				break;
			}
		}
	} else if (!leave) {
		shard *sh = shard_of(p);
		lock(sh);
		entry *e = find(sh, p, NULL);
		if (e != NULL && val_owner(e->val) == OWNER_GO) {
			v = e->val;
			e->key = freed_key(p);
			sh->live--;
		}
		unlock(sh);
	}
	if (v == 0) {
		uint64_t live = peek(p);
		if (live != 0) {
			die_block(fn, p, "the block is not owned by a Go handle (C owns it)", live);
		}
		misuse(fn, p);
	}
	return v;
}

void mb_bridge_free_go_owned(void *p) {
	if (p == NULL) {
		return;
	}
	take_go_owned("mb_bridge_free_go_owned", p, 0);
	raw_free(p);
}

void mb_bridge_release_with(void (*deleter)(void *), void *p) {
	if (p == NULL) {
		return;
	}
	take_go_owned("mb_bridge_release_with", p, 1);
	deleter(p);
}
