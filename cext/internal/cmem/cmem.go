// Package cmem plays the part of C extension code in cext's tests and
// examples: each function is C that allocates or frees through
// membridge.h, called from Go.
package cmem

// #cgo CFLAGS: -Wall -Wextra -I${SRCDIR}/../..
// #include <errno.h>
// #include <pthread.h>
// #include <stdlib.h>
// #include <string.h>
// #include <sys/mman.h>
// #include "mb_bridge.h"
//
// static void *cmem_malloc(int tag, size_t n) { return membridge_malloc(tag, n); }
//
// // cmem_allocator_round_trip grows a buffer to n bytes through an
// // allocator struct, the way a library that takes one would, and frees it.
// static int cmem_allocator_round_trip(int tag, size_t n) {
// 	membridge_allocator a = membridge_allocator_for(tag);
// 	unsigned char *p = a.calloc(a.ctx, 1, 16);
// 	if (p == NULL) return -1;
// 	for (size_t size = 32; size <= n; size *= 2) {
// 		unsigned char *q = a.realloc(a.ctx, p, size);
// 		if (q == NULL) { a.free(a.ctx, p); return -1; }
// 		p = q;
// 		p[size - 1] = 1;
// 	}
// 	a.free(a.ctx, p);
// 	return 0;
// }
//
// struct churn { int tag; int rounds; };
// static void *churn_thread(void *arg) {
// 	struct churn *c = arg;
// 	void *keep[8] = {0};
// 	for (int i = 0; i < c->rounds; i++) {
// 		int k = i % 8;
// 		membridge_free(keep[k]);
// 		keep[k] = membridge_malloc(c->tag, (size_t)(1024 + i % 4096));
// 	}
// 	for (int k = 0; k < 8; k++) membridge_free(keep[k]);
// 	return NULL;
// }
//
// // cmem_churn allocates and frees from n C threads at once.
// static int cmem_churn(int tag, int threads, int rounds) {
// 	pthread_t t[16];
// 	struct churn c = {tag, rounds};
// 	if (threads > 16) threads = 16;
// 	for (int i = 0; i < threads; i++)
// 		if (pthread_create(&t[i], NULL, churn_thread, &c) != 0) return -1;
// 	for (int i = 0; i < threads; i++) pthread_join(t[i], NULL);
// 	return 0;
// }
//
// static _Atomic int deleter_calls;
// // cmem_deleter is an extension's own release function.
// void cmem_deleter(void *p);
// void cmem_deleter(void *p) { deleter_calls++; membridge_free(p); }
// static int cmem_deleter_calls(void) { return deleter_calls; }
//
// // cmem_foreign returns a pointer membridge did not allocate, 64 bytes
// // into a calloc'd block.
// static void *cmem_foreign(void) {
// 	unsigned char *p = calloc(1, 128);
// 	return p == NULL ? NULL : p + 64;
// }
// static void cmem_free_foreign(void *p) { free((unsigned char *)p - 64); }
//
// // A planted leak: the block's only pointer is kept masked, so no leak
// // checker can see it, until cmem_unplant unmasks and frees it.
// static uintptr_t planted;
// #define MASK ((uintptr_t)0x5a5a5a5a5a5a5a5aull)
// static void cmem_plant(size_t n) {
// 	void *volatile p = malloc(n);
// 	planted = (uintptr_t)p ^ MASK;
// }
// static void cmem_unplant(int unused) {
// 	(void)unused;
// 	if (planted != 0) free((void *)(planted ^ MASK));
// 	planted = 0;
// }
//
// // cmem_misuse runs one misuse of membridge.h, all on one thread, so
// // that the allocator's per-thread caches are in a known state. Each
// // case must abort; it returns if membridge let the misuse through.
// // The allocation cases fill glibc's per-thread cache (tcache, 7 blocks
// // per size) first, so the block freed twice goes where glibc leaves
// // its first bytes alone: a fastbin (small sizes), the unsorted bin, or
// // into a neighbour it merges with.
// enum { FILL = 7 };
// static pthread_barrier_t race_start;
// static void *race_free(void *p) {
// 	pthread_barrier_wait(&race_start);
// 	membridge_free(p);
// 	return NULL;
// }
// static void fill_tcache(int tag, size_t n, int free_them, void **keep) {
// 	for (int i = 0; i < FILL; i++) keep[i] = membridge_malloc(tag, n);
// 	if (free_them) for (int i = 0; i < FILL; i++) membridge_free(keep[i]);
// }
// static void cmem_misuse(const char *what) {
// 	int tag = membridge_tag("cext.misuse");
// 	void *keep[FILL];
// 	if (strcmp(what, "twice") == 0) {
// 		void *p = membridge_malloc(tag, 24);
// 		membridge_free(p);
// 		membridge_free(p);
// 	} else if (strcmp(what, "fastbin") == 0 || strcmp(what, "unsorted") == 0) {
// 		size_t n = what[0] == 'f' ? 24 : 600;
// 		fill_tcache(tag, n, 0, keep);
// 		void *a = membridge_malloc(tag, n), *g1 = membridge_malloc(tag, 16);
// 		void *b = membridge_malloc(tag, n), *g2 = membridge_malloc(tag, 16);
// 		for (int i = 0; i < FILL; i++) membridge_free(keep[i]); // tcache full
// 		membridge_free(a);
// 		membridge_free(b);
// 		membridge_free(a); // glibc's own check sees b on top, not a
// 		membridge_free(g1);
// 		membridge_free(g2);
// 	} else if (strcmp(what, "coalesced") == 0) {
// 		fill_tcache(tag, 600, 0, keep);
// 		void *a = membridge_malloc(tag, 600), *b = membridge_malloc(tag, 600);
// 		void *g = membridge_malloc(tag, 16);
// 		for (int i = 0; i < FILL; i++) membridge_free(keep[i]);
// 		membridge_free(a);
// 		membridge_free(b); // merged into a's chunk: b's first bytes untouched
// 		membridge_free(b);
// 		membridge_free(g);
// 	} else if (strcmp(what, "realloc-freed") == 0) {
// 		fill_tcache(tag, 24, 0, keep);
// 		void *a = membridge_malloc(tag, 24);
// 		for (int i = 0; i < FILL; i++) membridge_free(keep[i]);
// 		membridge_free(a);
// 		membridge_realloc(tag, a, 48);
// 	} else if (strcmp(what, "mmapped") == 0) {
// 		void *p = membridge_malloc(tag, 8 << 20); // glibc maps it, and unmaps it at free
// 		membridge_free(p);
// 		membridge_free(p);
// 	} else if (strcmp(what, "interior") == 0) {
// 		unsigned char *p = membridge_malloc(tag, 100);
// 		membridge_free(p + 16);
// 	} else if (strcmp(what, "realloc-interior") == 0) {
// 		unsigned char *p = membridge_malloc(tag, 100);
// 		membridge_realloc(tag, p + 32, 200);
// 	} else if (strcmp(what, "realloc-foreign") == 0) {
// 		membridge_realloc(tag, cmem_foreign(), 10);
// 	} else if (strcmp(what, "foreign-unmapped") == 0) {
// 		// The first byte of a mapping: nothing before it may be read.
// 		unsigned char *m = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
// 		if (m == MAP_FAILED) return;
// 		munmap(m, 4096);
// 		membridge_free(m + 4096);
// 	} else if (strcmp(what, "wild") == 0) {
// 		membridge_free((void *)~(uintptr_t)0); // no allocator's address
// 	} else if (strcmp(what, "size-freed") == 0) {
// 		void *p = membridge_malloc(tag, 40);
// 		membridge_free(p);
// 		(void)membridge_size(p);
// 	} else if (strcmp(what, "concurrent-twice") == 0) {
// 		// Two threads free one block at the same instant: one of them
// 		// must be told, whichever loses.
// 		pthread_t a, b;
// 		void *p = membridge_malloc(tag, 24);
// 		pthread_barrier_init(&race_start, NULL, 2);
// 		pthread_create(&a, NULL, race_free, p);
// 		pthread_create(&b, NULL, race_free, p);
// 		pthread_join(a, NULL);
// 		pthread_join(b, NULL);
// 	} else if (strcmp(what, "freed-by-libc-small") == 0) {
// 		mb_bridge_set_checking(0);
// 		void *p = membridge_malloc(tag, 56);
// 		free(p); // a small block's guard makes glibc's free() abort
// 	} else if (strcmp(what, "freed-by-libc") == 0) {
// 		mb_bridge_set_checking(1);
// 		void *p = membridge_malloc(tag, 56);
// 		free(p); // not membridge_free: the next malloc of that block finds it still counted
// 		void *q = membridge_malloc(tag, 56);
// 		membridge_free(q);
// 	}
// }
//
// // cmem_call_errno calls one allocation with a hostile size and reports
// // errno; it frees what it got, which a correct membridge never gives.
// static void *cmem_hostile(int tag, int op, size_t a, size_t b, int *err) {
// 	void *p = NULL, *old = NULL;
// 	errno = 0;
// 	switch (op) {
// 	case 0: p = membridge_malloc(tag, a); break;
// 	case 1: p = membridge_calloc(tag, a, b); break;
// 	case 2:
// 		old = membridge_malloc(tag, 32);
// 		if (old == NULL) return NULL;
// 		memset(old, 0x5a, 32);
// 		p = membridge_realloc(tag, old, a);
// 		break;
// 	}
// 	*err = errno;
// 	if (old != NULL) {
// 		// On failure the old block must be intact and still ours.
// 		unsigned char *o = old;
// 		for (int i = 0; i < 32; i++) if (o[i] != 0x5a) *err = -1;
// 		if (membridge_size(old) != 32) *err = -1;
// 		if (p == NULL) membridge_free(old);
// 	}
// 	return p;
// }
import "C"

import (
	"unsafe"

	_ "github.com/membridge/membridge/cext" // links membridge.c
)

// Tag registers name with membridge_tag and returns its index (-1 on error).
func Tag(name string) int {
	cs := C.CString(name)
	defer C.free(unsafe.Pointer(cs))
	return int(C.membridge_tag(cs))
}

// Malloc is membridge_malloc called from C.
func Malloc(tag, n int) unsafe.Pointer { return C.cmem_malloc(C.int(tag), C.size_t(n)) }

// Calloc is membridge_calloc.
func Calloc(tag, count, size int) unsafe.Pointer {
	return C.membridge_calloc(C.int(tag), C.size_t(count), C.size_t(size))
}

// Realloc is membridge_realloc.
func Realloc(tag int, p unsafe.Pointer, n int) unsafe.Pointer {
	return C.membridge_realloc(C.int(tag), p, C.size_t(n))
}

// SetChecking turns the C side's checking mode on or off
// (mb_bridge_set_checking) and returns what it was.
func SetChecking(on bool) (was bool) {
	was = C.mb_bridge_checking() != 0
	c := C.int(0)
	if on {
		c = 1
	}
	C.mb_bridge_set_checking(c)
	return was
}

// Free is membridge_free called from C.
func Free(p unsafe.Pointer) { C.membridge_free(p) }

// Size is membridge_size.
func Size(p unsafe.Pointer) int { return int(C.membridge_size(p)) }

// AllocatorRoundTrip grows a block to n bytes through a
// membridge_allocator for tag and frees it; false if memory ran out.
func AllocatorRoundTrip(tag, n int) bool {
	return C.cmem_allocator_round_trip(C.int(tag), C.size_t(n)) == 0
}

// Churn allocates and frees rounds times on each of threads C threads
// (at most 16) at once, leaving nothing live.
func Churn(tag, threads, rounds int) bool {
	return C.cmem_churn(C.int(tag), C.int(threads), C.int(rounds)) == 0
}

// Stats is membridge_read_tag_stats.
type Stats struct {
	LiveBytes, LiveCount, PeakBytes, AllocBytes, AllocCount, FreedBytes, FreedCount int64
}

// ReadStats returns tag's counters as the C side keeps them.
func ReadStats(tag int) (Stats, bool) {
	var s C.membridge_tag_stats
	if C.membridge_read_tag_stats(C.int(tag), &s) != 0 {
		return Stats{}, false
	}
	return Stats{int64(s.live_bytes), int64(s.live_count), int64(s.peak_bytes), int64(s.alloc_bytes),
		int64(s.alloc_count), int64(s.freed_bytes), int64(s.freed_count)}, true
}

// Deleter is a C release function of an extension (it calls
// membridge_free), as a pointer for cext.Adopt.
var Deleter = unsafe.Pointer(C.cmem_deleter)

// DeleterCalls returns how many times Deleter ran.
func DeleterCalls() int { return int(C.cmem_deleter_calls()) }

// Foreign returns a pointer to memory membridge did not allocate; give it
// back with FreeForeign.
func Foreign() unsafe.Pointer { return C.cmem_foreign() }

// FreeForeign frees a pointer from Foreign.
func FreeForeign(p unsafe.Pointer) { C.cmem_free_foreign(p) }

// PlantLeak allocates n bytes with malloc and hides the only pointer to
// them (masked), so that leak checkers see a leak; UnplantLeak frees it.
func PlantLeak(n int) { C.cmem_plant(C.size_t(n)) }

// UnplantLeak frees the block of PlantLeak.
func UnplantLeak() { C.cmem_unplant(0) }

// Misuse runs the misuse of membridge.h named what (see cmem_misuse), on
// one C thread; it returns only if membridge did not abort.
func Misuse(what string) {
	cs := C.CString(what)
	defer C.free(unsafe.Pointer(cs))
	C.cmem_misuse(cs)
}

// Hostile operations for HostileAlloc.
const (
	HostileMalloc  = 0 // membridge_malloc(tag, a)
	HostileCalloc  = 1 // membridge_calloc(tag, a, b)
	HostileRealloc = 2 // membridge_realloc of a 32-byte block to a bytes
)

// HostileAlloc makes the allocation op with sizes a and b and returns
// whether it returned a block (which it then frees) and errno; errno -1
// means a failed realloc changed the old block.
func HostileAlloc(tag, op int, a, b uint64) (got bool, errno int) {
	var e C.int
	p := C.cmem_hostile(C.int(tag), C.int(op), C.size_t(a), C.size_t(b), &e)
	if p != nil {
		C.membridge_free(p)
	}
	return p != nil, int(e)
}
