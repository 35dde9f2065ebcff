/* test_membridge.c: the C side of membridge tested from C alone, for
 * valgrind (make memcheck) and the allocator speed check (make
 * cext-bench). Build: see mk/cext.mk.
 *
 *   test_membridge          run the tests; exit 0 if they pass
 *   test_membridge leak     the tests, then a planted leak (a block whose
 *                           last pointer is dropped): valgrind must
 *                           report it
 *   test_membridge bench [lines [runs]]  membridge_malloc+membridge_free
 *                           against malloc+free, side by side, best of
 *                           runs (150) interleaved runs
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "batch.h"
#include "mb_bridge.h"
#include "membridge.h"
#include "notifier.h"

static int failures;

#define CHECK(cond, ...)                                                                                              \
	do {                                                                                                          \
		if (!(cond)) {                                                                                        \
			failures++;                                                                                   \
			fprintf(stderr, "%s:%d: FAIL %s: ", __FILE__, __LINE__, #cond);                               \
			fprintf(stderr, __VA_ARGS__);                                                                 \
			fputc('\n', stderr);                                                                          \
		}                                                                                                     \
	} while (0)

static membridge_tag_stats stats(int tag) {
	membridge_tag_stats s;
	if (membridge_read_tag_stats(tag, &s) != 0) {
		memset(&s, 0xff, sizeof s);
	}
	return s;
}

static void test_tags(void) {
	int a = membridge_tag("test.tags");
	CHECK(a > 0 && membridge_tag("test.tags") == a, "membridge_tag twice: %d", a);
	CHECK(strcmp(membridge_tag_name(a), "test.tags") == 0, "name %s", membridge_tag_name(a));
	CHECK(strcmp(membridge_tag_name(MEMBRIDGE_TAG_DEFAULT), "c-extension") == 0, "default tag name");
	CHECK(membridge_tag("") == -1 && membridge_tag(NULL) == -1, "empty names accepted");
	char long_name[64];
	memset(long_name, 'x', sizeof long_name - 1);
	long_name[63] = '\0';
	CHECK(membridge_tag(long_name) == -1, "a 63-byte name accepted");
	CHECK(membridge_tag_name(-1) == NULL && membridge_tag_name(MEMBRIDGE_MAX_TAGS) == NULL, "bad index has a name");
}

static void test_counters(void) {
	int t = membridge_tag("test.counters");
	unsigned char *a = membridge_malloc(t, 100);
	unsigned char *b = membridge_calloc(t, 3, 10);
	CHECK(a != NULL && b != NULL, "out of memory");
	memset(a, 1, 100);
	for (int i = 0; i < 30; i++) {
		CHECK(b[i] == 0, "calloc byte %d = %d", i, b[i]);
	}
	CHECK(((uintptr_t)a & 15) == 0, "block %p not 16-byte aligned", (void *)a);
	a = membridge_realloc(t, a, 5000);
	CHECK(a != NULL && a[99] == 1 && membridge_size(a) == 5000, "realloc lost the contents or the size");
	membridge_tag_stats s = stats(t);
	CHECK(s.live_bytes == 5030 && s.live_count == 2 && s.peak_bytes == 5030, "live %lld/%lld peak %lld",
	      (long long)s.live_bytes, (long long)s.live_count, (long long)s.peak_bytes);
	membridge_free(a);
	membridge_free(b);
	membridge_free(NULL);
	CHECK(membridge_realloc(t, membridge_malloc(t, 8), 0) == NULL, "realloc to 0 returned a block");
	CHECK(membridge_calloc(t, SIZE_MAX / 2, 3) == NULL, "overflowing calloc succeeded");
	CHECK(membridge_malloc(t, SIZE_MAX - 4) == NULL, "huge malloc succeeded");
	s = stats(t);
	CHECK(s.live_bytes == 0 && s.live_count == 0 && s.alloc_count == 4 && s.freed_count == 4 && s.peak_bytes == 5030,
	      "after frees: live %lld/%lld allocs %lld frees %lld", (long long)s.live_bytes, (long long)s.live_count,
	      (long long)s.alloc_count, (long long)s.freed_count);
	/* An unregistered index counts under the default tag. */
	membridge_tag_stats d0 = stats(MEMBRIDGE_TAG_DEFAULT);
	void *p = membridge_malloc(1000, 10);
	CHECK(stats(MEMBRIDGE_TAG_DEFAULT).live_bytes == d0.live_bytes + 10, "unregistered tag not counted as default");
	membridge_free(p);
}

/* zlib takes a custom allocator as zalloc/zfree/opaque: two small adapters
 * hand it a membridge_allocator. */
static voidpf zlib_alloc(voidpf opaque, uInt items, uInt size) {
	membridge_allocator *a = opaque;
	return a->calloc(a->ctx, items, size);
}

static void zlib_free(voidpf opaque, voidpf address) {
	membridge_allocator *a = opaque;
	a->free(a->ctx, address);
}

static void test_zlib_allocator(void) {
	int t = membridge_tag("zlib");
	membridge_allocator a = membridge_allocator_for(t);
	static unsigned char in[1 << 16], packed[1 << 17], out[1 << 16];
	for (size_t i = 0; i < sizeof in; i++) {
		in[i] = (unsigned char)(i * 7 % 251);
	}
	z_stream z = {.zalloc = zlib_alloc, .zfree = zlib_free, .opaque = &a};
	CHECK(deflateInit(&z, 6) == Z_OK, "deflateInit");
	membridge_tag_stats during = stats(t);
	CHECK(during.live_bytes > 100000 && during.live_count >= 4, "zlib's deflate state not counted: %lld bytes in %lld",
	      (long long)during.live_bytes, (long long)during.live_count);
	z.next_in = in;
	z.avail_in = sizeof in;
	z.next_out = packed;
	z.avail_out = sizeof packed;
	CHECK(deflate(&z, Z_FINISH) == Z_STREAM_END, "deflate");
	uLong packed_len = z.total_out;
	deflateEnd(&z);
	z_stream u = {.zalloc = zlib_alloc, .zfree = zlib_free, .opaque = &a};
	CHECK(inflateInit(&u) == Z_OK, "inflateInit");
	u.next_in = packed;
	u.avail_in = (uInt)packed_len;
	u.next_out = out;
	u.avail_out = sizeof out;
	CHECK(inflate(&u, Z_FINISH) == Z_STREAM_END, "inflate");
	inflateEnd(&u);
	CHECK(memcmp(in, out, sizeof in) == 0, "round trip changed the data");
	membridge_tag_stats s = stats(t);
	CHECK(s.live_bytes == 0 && s.alloc_count == s.freed_count && s.peak_bytes >= during.live_bytes,
	      "after deflateEnd/inflateEnd: %lld bytes live, %lld allocs, %lld frees", (long long)s.live_bytes,
	      (long long)s.alloc_count, (long long)s.freed_count);
	printf("zlib through membridge_allocator: %lld allocations, peak %lld bytes, %u -> %lu bytes\n",
	       (long long)s.alloc_count, (long long)s.peak_bytes, (unsigned)sizeof in, packed_len);
}

enum { THREADS = 8, ROUNDS = 20000 };

static void *churn(void *arg) {
	int t = *(int *)arg;
	void *keep[8] = {0};
	for (int i = 0; i < ROUNDS; i++) {
		membridge_free(keep[i % 8]);
		keep[i % 8] = membridge_malloc(t, (size_t)(1024 + i % 4096));
	}
	for (int k = 0; k < 8; k++) {
		membridge_free(keep[k]);
	}
	return NULL;
}

static void test_threads(void) {
	int t = membridge_tag("test.threads");
	pthread_t th[THREADS];
	for (int i = 0; i < THREADS; i++) {
		CHECK(pthread_create(&th[i], NULL, churn, &t) == 0, "pthread_create");
	}
	for (int i = 0; i < THREADS; i++) {
		pthread_join(th[i], NULL);
	}
	membridge_tag_stats s = stats(t);
	CHECK(s.alloc_count == THREADS * ROUNDS && s.freed_count == THREADS * ROUNDS && s.live_bytes == 0 &&
	          s.alloc_bytes == s.freed_bytes,
	      "allocs %lld frees %lld live %lld", (long long)s.alloc_count, (long long)s.freed_count,
	      (long long)s.live_bytes);
	/* Each thread holds at most 8 blocks of at most 5119 bytes; the peak is
	 * exact to within 32 KiB per thread. */
	CHECK(s.peak_bytes >= 8 * 1024 && s.peak_bytes <= THREADS * (8 * 5119 + (32 << 10)), "peak %lld",
	      (long long)s.peak_bytes);
}

static void test_batch(void) {
	batch_record in[6];
	float values[6] = {0.5f, 2, 1, -1, NAN, 1.5f};
	for (int i = 0; i < 6; i++) {
		in[i] = (batch_record){.id = 100 + (uint64_t)i, .value = values[i]};
	}
	size_t kept = 99;
	batch_record *out = batch_filter_copy(in, 6, 1, 2, &kept);
	CHECK(out != NULL && kept == 3 && out[0].id == 101 && out[1].id == 102 && out[2].id == 105 &&
	          (out[2].flags & BATCH_KEPT),
	      "batch_filter_copy kept %zu", kept);
	batch_release(out);
	void *work = NULL;
	const batch_record *view = batch_process(in, 6, 1, 2, &kept, &work);
	CHECK(view != NULL && work != NULL && kept == 3 && view[0].id == 101 && view[2].id == 105,
	      "batch_process kept %zu", kept);
	CHECK((const void *)view > work, "the view is not inside the working block");
	batch_release(work);
	out = batch_filter_copy(NULL, 0, 0, 1, &kept);
	CHECK(out != NULL && kept == 0, "empty batch");
	batch_release(out);
	CHECK(stats(membridge_tag(BATCH_TAG_WORK)).live_bytes == 0 && stats(membridge_tag(BATCH_TAG_KEPT)).live_bytes == 0,
	      "batch left memory live");
}

static int events;

static void on_event(void *user, int event) {
	events += *(int *)user * event;
}

static void test_notifier(void) {
	int scale = 10;
	notifier *n = notifier_new(on_event, &scale);
	CHECK(n != NULL && notifier_user_data(n) == &scale, "notifier_new");
	notifier_fire(n, 2, 3);
	CHECK(events == 60, "events %d", events);
	notifier_free(n);
}

/* expect_abort runs fn in a child and checks it dies of SIGABRT. */
static void expect_abort(const char *what, void (*fn)(void)) {
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		fclose(stderr); /* the message is checked by the Go tests */
		fn();
		_exit(0);
	}
	int status = 0;
	waitpid(pid, &status, 0);
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT, "%s did not abort (status %d)", what, status);
}

static void free_foreign(void) {
	unsigned char *p = calloc(1, 128);
	membridge_free(p + 64);
}

static void realloc_foreign(void) {
	unsigned char *p = calloc(1, 128);
	membridge_realloc(0, p + 64, 10);
}

/* A double free with glibc's per-thread cache full: the block goes to a
 * fastbin, where glibc's own check sees only the top. */
static void free_twice_fastbin(void) {
	void *keep[7];
	for (int i = 0; i < 7; i++) {
		keep[i] = membridge_malloc(0, 24);
	}
	void *a = membridge_malloc(0, 24), *b = membridge_malloc(0, 24);
	for (int i = 0; i < 7; i++) {
		membridge_free(keep[i]);
	}
	membridge_free(a);
	membridge_free(b);
	membridge_free(a);
}

/* A double free of a block glibc maps, and unmaps at the first free. */
static void free_twice_mapped(void) {
	void *p = membridge_malloc(0, 8 << 20);
	membridge_free(p);
	membridge_free(p);
}

static void free_interior(void) {
	unsigned char *p = membridge_malloc(0, 100);
	membridge_free(p + 16);
}

static void realloc_freed(void) {
	void *p = membridge_malloc(0, 100);
	membridge_free(p);
	membridge_realloc(0, p, 200);
}

/* A small block given to libc's free() instead of membridge_free: its
 * guard makes glibc abort. */
__attribute__((unused)) static void free_small_with_libc(void) {
	mb_bridge_set_checking(0);
	void *p = membridge_malloc(0, 40);
	free(p);
}

static void free_small_twice(void) {
	mb_bridge_set_checking(0);
	void *p = membridge_malloc(0, 3000);
	membridge_free(p);
	membridge_free(p);
}

static void free_small_interior(void) {
	mb_bridge_set_checking(0);
	unsigned char *p = membridge_malloc(0, 3000);
	membridge_free(p + 48);
}

/* Each size up to the largest small class: the size membridge_size
 * reports, malloc's alignment, every byte writable, calloc's zeroes in a
 * reused (dirtied) block, and realloc across the small-large line both
 * ways, with the checking mode switched in between. */
static void test_small_blocks(void) {
	int t = membridge_tag("test.small");
	int was = mb_bridge_checking();
	for (int checking = 0; checking < 2; checking++) {
		mb_bridge_set_checking(checking);
		for (size_t n = 0; n <= 16384 + 64; n += n < 300 ? 1 : 37) {
			unsigned char *p = membridge_malloc(t, n);
			CHECK(p != NULL && (uintptr_t)p % 16 == 0, "membridge_malloc(%zu) = %p", n, (void *)p);
			CHECK(membridge_size(p) == n, "membridge_size = %zu, want %zu", membridge_size(p), n);
			memset(p, 0xa5, n);
			membridge_free(p);
			unsigned char *z = membridge_calloc(t, 1, n);
			int zero = 1;
			for (size_t i = 0; i < n; i++) {
				zero &= z[i] == 0;
			}
			CHECK(zero, "membridge_calloc(%zu) not zeroed", n);
			memset(z, 0x3c, n);
			mb_bridge_set_checking(!checking);
			unsigned char *q = membridge_realloc(t, z, n * 3 + 1);
			CHECK(q != NULL && membridge_size(q) == n * 3 + 1, "realloc to %zu", n * 3 + 1);
			int kept = 1;
			for (size_t i = 0; i < n; i++) {
				kept &= q[i] == 0x3c;
			}
			q = membridge_realloc(t, q, n / 2 + 1);
			for (size_t i = 0; i < n / 2 + 1 && i < n; i++) {
				kept &= q[i] == 0x3c;
			}
			CHECK(kept, "realloc of %zu bytes lost contents", n);
			membridge_free(q);
			mb_bridge_set_checking(checking);
		}
	}
	mb_bridge_set_checking(was);
	membridge_tag_stats s = stats(t);
	CHECK(s.live_bytes == 0 && s.alloc_count == s.freed_count, "live %lld allocs %lld frees %lld",
	      (long long)s.live_bytes, (long long)s.alloc_count, (long long)s.freed_count);
}

static void test_misuse(void) {
	expect_abort("membridge_free of a foreign pointer", free_foreign);
	expect_abort("membridge_realloc of a foreign pointer", realloc_foreign);
	expect_abort("a double free through a fastbin", free_twice_fastbin);
	expect_abort("a double free of a mapped block", free_twice_mapped);
	expect_abort("membridge_free of an interior pointer", free_interior);
	expect_abort("membridge_realloc of a freed block", realloc_freed);
	/* Only glibc's own free() reads the guard: ThreadSanitizer's and
	 * valgrind's replace it (and report the bad free themselves). */
#ifndef __SANITIZE_THREAD__
	if (getenv("MEMBRIDGE_TEST_VALGRIND") == NULL) {
		expect_abort("free() of a small block", free_small_with_libc);
	}
#endif
	expect_abort("a double free of a small block", free_small_twice);
	expect_abort("membridge_free inside a small block", free_small_interior);
}

/* Hostile sizes: NULL with ENOMEM, never a small block; a failed realloc
 * leaves the block as it was. */
static void test_hostile_sizes(void) {
	int t = membridge_tag("test.hostile");
	const size_t huge[] = {SIZE_MAX, SIZE_MAX - 8, SIZE_MAX - 16, (size_t)1 << 63, (size_t)1 << 48};
	for (size_t i = 0; i < sizeof huge / sizeof huge[0]; i++) {
		errno = 0;
		void *p = membridge_malloc(t, huge[i]);
		CHECK(p == NULL && errno == ENOMEM, "membridge_malloc(%zu) = %p, errno %d", huge[i], p, errno);
		membridge_free(p);
	}
	errno = 0;
	void *c = membridge_calloc(t, (size_t)1 << 32, (size_t)1 << 32);
	CHECK(c == NULL && errno == ENOMEM, "overflowing calloc = %p, errno %d", c, errno);
	membridge_free(c);
	unsigned char *p = membridge_malloc(t, 16);
	CHECK(p != NULL, "out of memory");
	memset(p, 7, 16);
	errno = 0;
	void *q = membridge_realloc(t, p, SIZE_MAX - 8);
	CHECK(q == NULL && errno == ENOMEM && p[15] == 7 && membridge_size(p) == 16, "huge realloc = %p, errno %d", q,
	      errno);
	membridge_free(p);
	membridge_tag_stats s = stats(t);
	CHECK(s.live_bytes == 0 && s.alloc_count == s.freed_count, "hostile sizes left %lld bytes live",
	      (long long)s.live_bytes);
}

/* Blocks allocated on one thread and freed on another, as cgo does when
 * a goroutine moves between threads. */
enum { HANDOFF = 50000 };
static void *handoff[HANDOFF];
static _Atomic long handed;

static void *produce(void *arg) {
	int t = *(int *)arg;
	for (long i = 0; i < HANDOFF; i++) {
		handoff[i] = membridge_malloc(t, (size_t)(16 + i % 2000));
		atomic_store_explicit(&handed, i + 1, memory_order_release);
	}
	return NULL;
}

static void *consume(void *arg) {
	(void)arg;
	for (long i = 0; i < HANDOFF; i++) {
		while (atomic_load_explicit(&handed, memory_order_acquire) <= i) {
			sched_yield();
		}
		membridge_free(handoff[i]);
	}
	return NULL;
}

/* fork while another thread allocates: no shard lock may stay held in
 * the child. The child frees an interior pointer, whose diagnosis takes
 * every shard's lock before it aborts: a lock left held hangs it until
 * the alarm. */
static _Atomic int churning;

static void *churn_until_told(void *arg) {
	int t = *(int *)arg;
	while (atomic_load_explicit(&churning, memory_order_relaxed)) {
		membridge_free(membridge_malloc(t, 48));
	}
	return NULL;
}

static void test_fork(void) {
	if (getenv("MEMBRIDGE_TEST_NO_FORK") != NULL) {
		/* make memcheck: under valgrind each aborting child runs a leak
		 * check of its own (slow, and noise next to the parent's). */
		return;
	}
	int t = membridge_tag("test.fork");
	pthread_t th;
	atomic_store(&churning, 1);
	CHECK(pthread_create(&th, NULL, churn_until_told, &t) == 0, "pthread_create");
	for (int i = 0; i < 200; i++) {
		fflush(NULL);
		pid_t pid = fork();
		if (pid == 0) {
			alarm(2);
			fclose(stderr);
			unsigned char *p = membridge_malloc(t, 100);
			membridge_free(p + 16);
			_exit(0);
		}
		int status = 0;
		waitpid(pid, &status, 0);
		CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT, "child %d after fork: status %d", i, status);
	}
	atomic_store(&churning, 0);
	pthread_join(th, NULL);
}

/* Many live blocks at once, freed in a scrambled order: the table grows
 * and shrinks through its rehashes without losing one. */
static void test_many_blocks(void) {
	enum { N = 200000 };
	int t = membridge_tag("test.many");
	static unsigned char *b[N];
	for (size_t i = 0; i < N; i++) {
		b[i] = membridge_malloc(t, 1 + i % 300);
		CHECK(b[i] != NULL, "out of memory at %zu", i);
		b[i][0] = (unsigned char)i;
	}
	for (size_t k = 0; k < N; k++) {
		size_t i = k * 7919 % N; /* 7919 is prime and does not divide N: a permutation */
		CHECK(b[i][0] == (unsigned char)i && membridge_size(b[i]) == 1 + i % 300, "block %zu changed", i);
		membridge_free(b[i]);
	}
	membridge_tag_stats s = stats(t);
	CHECK(s.live_bytes == 0 && s.alloc_count == N && s.freed_count == N, "live %lld allocs %lld frees %lld",
	      (long long)s.live_bytes, (long long)s.alloc_count, (long long)s.freed_count);
}

static void test_cross_thread_frees(void) {
	int t = membridge_tag("test.handoff");
	pthread_t p, c;
	CHECK(pthread_create(&p, NULL, produce, &t) == 0 && pthread_create(&c, NULL, consume, NULL) == 0,
	      "pthread_create");
	pthread_join(p, NULL);
	pthread_join(c, NULL);
	membridge_tag_stats s = stats(t);
	CHECK(s.alloc_count == HANDOFF && s.freed_count == HANDOFF && s.live_bytes == 0, "allocs %lld frees %lld live %lld",
	      (long long)s.alloc_count, (long long)s.freed_count, (long long)s.live_bytes);
}

/* The planted leak: the block's only pointer is dropped. noinline and
 * the volatile store keep gcc from deleting the allocation. */
static void *volatile planted;

__attribute__((noinline)) static void plant_leak(void) {
	planted = membridge_malloc(membridge_tag("test.planted"), 4096);
	planted = NULL;
}

/* ---- bench ---- */

static double now_ns(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void *volatile sink;

__attribute__((noinline)) static double run_libc(size_t size, long n) {
	double t0 = now_ns();
	for (long i = 0; i < n; i++) {
		unsigned char *p = malloc(size);
		p[0] = (unsigned char)i;
		sink = p;
		free(p);
	}
	return (now_ns() - t0) / (double)n;
}

__attribute__((noinline)) static double run_membridge(int tag, size_t size, long n) {
	double t0 = now_ns();
	for (long i = 0; i < n; i++) {
		unsigned char *p = membridge_malloc(tag, size);
		p[0] = (unsigned char)i;
		sink = p;
		membridge_free(p);
	}
	return (now_ns() - t0) / (double)n;
}

/* The batch pattern: allocate 64 blocks, then free them, as a request
 * that builds a few structures and drops them does. */
enum { BATCH = 64 };

__attribute__((noinline)) static double run_libc_batch(size_t size, long n) {
	void *keep[BATCH];
	double t0 = now_ns();
	for (long i = 0; i < n; i += BATCH) {
		for (int k = 0; k < BATCH; k++) {
			unsigned char *p = malloc(size);
			p[0] = (unsigned char)k;
			keep[k] = p;
		}
		sink = keep[i % BATCH];
		for (int k = 0; k < BATCH; k++) {
			free(keep[k]);
		}
	}
	return (now_ns() - t0) / (double)n;
}

__attribute__((noinline)) static double run_membridge_batch(int tag, size_t size, long n) {
	void *keep[BATCH];
	double t0 = now_ns();
	for (long i = 0; i < n; i += BATCH) {
		for (int k = 0; k < BATCH; k++) {
			unsigned char *p = membridge_malloc(tag, size);
			p[0] = (unsigned char)k;
			keep[k] = p;
		}
		sink = keep[i % BATCH];
		for (int k = 0; k < BATCH; k++) {
			membridge_free(keep[k]);
		}
	}
	return (now_ns() - t0) / (double)n;
}

/* bench prints a table for people, or with lines set one line per figure
 * in the format of go test -bench, which make figures reads. Within a
 * round the order alternates (libc first in even rounds, membridge first
 * in odd ones), so neither always runs on caches the other warmed. */
static int bench(int lines, int rounds) {
	int tag = membridge_tag("bench");
	const size_t sizes[] = {16, 64, 256, 1000, 1024, 4096, 16384};
	/* Short runs, many of them, interleaved: on a shared machine the
	 * fastest run of each is the one least disturbed by other work. */
	const long n = 64 * 1600;
	int over = 0;
	if (!lines) {
		printf("ns per allocation and free, best of %d interleaved runs of %ld\n", rounds, n);
		printf("%-7s %-7s %12s %12s %7s\n", "pattern", "size", "malloc+free", "membridge", "ratio");
	}
	for (int pattern = 0; pattern < 2; pattern++) {
		for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
			double best_libc = 1e18, best_mb = 1e18;
			for (int r = 0; r < rounds; r++) {
				double a, b;
				if (r % 2 == 0) {
					a = pattern == 0 ? run_libc(sizes[s], n) : run_libc_batch(sizes[s], n);
					b = pattern == 0 ? run_membridge(tag, sizes[s], n) : run_membridge_batch(tag, sizes[s], n);
				} else {
					b = pattern == 0 ? run_membridge(tag, sizes[s], n) : run_membridge_batch(tag, sizes[s], n);
					a = pattern == 0 ? run_libc(sizes[s], n) : run_libc_batch(sizes[s], n);
				}
				best_libc = a < best_libc ? a : best_libc;
				best_mb = b < best_mb ? b : best_mb;
			}
			double ratio = best_mb / best_libc;
			over |= ratio > 1.3;
			const char *name = pattern == 0 ? "pair" : "batch";
			if (lines) {
				printf("BenchmarkCext/pattern=%s/size=%zu/impl=libc 1 %.2f ns/op\n", name, sizes[s], best_libc);
				printf("BenchmarkCext/pattern=%s/size=%zu/impl=membridge 1 %.2f ns/op\n", name, sizes[s], best_mb);
			} else {
				printf("%-7s %-7zu %12.2f %12.2f %6.2fx\n", name, sizes[s], best_libc, best_mb, ratio);
			}
		}
	}
	membridge_tag_stats st = stats(tag);
	if (st.live_bytes != 0) {
		fprintf(stderr, "bench left %lld bytes live\n", (long long)st.live_bytes);
		return 1;
	}
	if (!lines) {
		printf(over ? "some ratio is above 1.3x\n" : "every ratio is within 1.3x\n");
	}
	return 0;
}

int main(int argc, char **argv) {
	if (argc > 1 && strcmp(argv[1], "bench") == 0) {
		int lines = argc > 2 && strcmp(argv[2], "lines") == 0;
		int rounds = argc > 3 ? atoi(argv[3]) : 150;
		return bench(lines, rounds > 0 ? rounds : 150);
	}
	test_tags();
	test_counters();
	test_zlib_allocator();
	test_threads();
	test_batch();
	test_notifier();
	test_small_blocks();
	test_misuse();
	test_hostile_sizes();
	test_many_blocks();
	test_cross_thread_frees();
	test_fork();
	if (argc > 1 && strcmp(argv[1], "leak") == 0) {
		plant_leak();
		printf("planted a leak of 4096 bytes (tag test.planted)\n");
	}
	if (failures) {
		fprintf(stderr, "%d checks failed\n", failures);
		return 1;
	}
	printf("all C checks passed\n");
	return 0;
}
