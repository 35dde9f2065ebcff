/* mb_bridge.h: what package cext (membridge's Go side of membridge.h)
 * needs from membridge.c beyond the public header: moving blocks between
 * the C counters and the Go ledger, and tracing. C extensions do not need
 * it. */
#ifndef MEMBRIDGE_MB_BRIDGE_H
#define MEMBRIDGE_MB_BRIDGE_H

#include "membridge.h"

/* Results of the ownership moves. */
enum mb_bridge_result {
	MB_BRIDGE_OK = 0,
	MB_BRIDGE_FOREIGN = 1,   /* not a membridge block, or already freed */
	MB_BRIDGE_GO_OWNED = 2,  /* a Go handle already owns the block */
	MB_BRIDGE_C_OWNED = 3    /* the C side already owns the block */
};

/* mb_bridge_to_go makes a Go handle the owner of block p: the C counters
 * (or the trace record) stop counting it. It reports the block's size and
 * tag, and whether it was traced (the caller then ends the trace record). */
int mb_bridge_to_go(void *p, size_t *size, int *tag, int *traced);

/* mb_bridge_to_c gives block p, owned by a Go handle, to C. With traced
 * == 0 the C counters count it under its tag until C frees it; with
 * traced != 0 the caller has made a trace record for it, and the free
 * hook hears of its free. */
int mb_bridge_to_c(void *p, int traced);

/* mb_bridge_alloc_for_go allocates a block owned by a Go handle from the
 * start (counted by the Go ledger, not by the C counters). */
void *mb_bridge_alloc_for_go(int tag, size_t n, int zero);

/* mb_bridge_free_go_owned frees a block a Go handle owns; it is the
 * deleter of such handles. It aborts on a block Go does not own. */
void mb_bridge_free_go_owned(void *p);

/* mb_bridge_release_with ends a Go handle's ownership of block p and
 * calls deleter(p), the extension's own deleter, which must end in
 * membridge_free: that free is not counted again (the ledger counted it).
 * It aborts on a block Go does not own. */
void mb_bridge_release_with(void (*deleter)(void *), void *p);

/* mb_bridge_check returns MB_BRIDGE_OK, MB_BRIDGE_C_OWNED or
 * MB_BRIDGE_GO_OWNED for a block, or MB_BRIDGE_FOREIGN, without changing
 * it, and its size and tag. */
int mb_bridge_check(const void *p, size_t *size, int *tag);

/* Tracing: while on, each allocation made through membridge.h calls the
 * alloc hook (which makes a ledger record with the Go stack) instead of
 * counting in C, and the free of such a block calls the free hook, which
 * returns 0 if it knew no record for the block (then membridge aborts). */
typedef void (*mb_trace_alloc_fn)(void *p, size_t n, int tag);
typedef int (*mb_trace_free_fn)(void *p);
void mb_bridge_set_trace_hooks(mb_trace_alloc_fn on_alloc, mb_trace_free_fn on_free);
void mb_bridge_set_tracing(int on);
int mb_bridge_tracing(void);

/* mb_bridge_set_checking turns the checking mode of the C side on or off
 * (the Go side follows tracker's switch): while on, every block comes from
 * malloc one by one, so valgrind and sanitizers see each; while off, small
 * blocks come from membridge's own size classes (mb_small.c). Blocks
 * already allocated stay valid either way. Without a call, the mode is
 * on when MEMBRIDGE_CHECK is set (not "0") or under AddressSanitizer.
 * mb_bridge_checking reports the mode. */
void mb_bridge_set_checking(int on);
int mb_bridge_checking(void);

/* mb_bridge_fail_allocs makes the next n allocations through membridge.h
 * fail (return NULL), whatever their tag; 0 cancels what is left. It is
 * fault injection, for tests of how callers handle out-of-memory (from Go:
 * package cext/cexttest). */
void mb_bridge_fail_allocs(long n);

#endif
