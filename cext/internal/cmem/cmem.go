// Package cmem plays the part of C extension code in cext's tests and
// examples: each function is C that allocates or frees through
// membridge.h, called from Go.
package cmem

// #cgo CFLAGS: -Wall -Wextra -Werror -I${SRCDIR}/../../../csrc
// #include <pthread.h>
// #include <stdlib.h>
// #include "membridge.h"
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
// // into a calloc'd block so reading a header before it stays in bounds.
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
import "C"

import (
	"unsafe"

	_ "github.com/membridge/membridge/csrc" // links membridge.c
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
