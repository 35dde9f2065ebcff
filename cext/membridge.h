/* membridge.h: the C side of membridge, for C extensions.
 *
 * C code that allocates through these functions shows up in the membridge
 * ledger next to Go's own allocations: kind "c-extension", per-tag live
 * bytes and counts, peaks and totals. C has no Go stack to record, so in
 * the normal mode only counters are kept (per tag, lock-free). When the Go
 * side turns tracing on (it does whenever the ledger keeps every stack, as
 * in tests), each allocation also becomes a ledger record carrying the Go
 * stack of the cgo call that led to it, so leak reports point at Go code.
 *
 * Blocks of up to 16 KiB come from membridge's own size classes (spans
 * of one class in a reserved region, a thread's free blocks cached per
 * class; see mb_small.c), larger ones from the C library's malloc. Either
 * way membridge keeps what it knows of each live block (size, tag, owner)
 * apart from the block: a word per small block beside its span, an entry
 * in a table keyed by address for a malloc'd one. It never reads a
 * block's memory to decide whether the block is live. In the checking
 * mode (MEMBRIDGE_CHECK=1 in the environment, or the Go side's switch)
 * and under AddressSanitizer every block comes from malloc, as asked, so
 * valgrind and the sanitizers see each one as the caller does.
 *
 * Thread safety: all functions may be called from any thread at any time.
 * Counters live in per-thread slots that only their thread writes (see
 * membridge.c); a small block's word changes by compare-and-swap; the
 * table of malloc'd blocks is split into shards by address, each under a
 * spin lock held for a few probes. Registering a tag takes a mutex (do it
 * once).
 *
 * Misuse aborts with a message on stderr that starts with "membridge: ",
 * names the function and the pointer, says what was wrong and describes
 * the block when membridge knows it, for example
 *
 *   membridge: membridge_free(0x...): freed already (a second free, or a
 *   use after free) (the block: tag "decoder", 24 bytes)
 *
 * Caught, before the C library sees the pointer: a second free or realloc
 * of a freed block (whatever the allocator did with it: cached, merged or
 * unmapped), a pointer membridge did not allocate, a pointer into the
 * middle of a block, a block a Go handle owns, and a block freed with
 * free() instead of membridge_free (a malloc'd block: found when malloc
 * hands its address out again; a small block: glibc's free() aborts at
 * once, "munmap_chunk(): invalid pointer", as the 16 bytes membridge keeps
 * in front of each small block tell it to). A misuse never corrupts the
 * heap. What no check can catch is a second free after the address was
 * allocated again: that frees the new block.
 *
 * Sizes that cannot be allocated (SIZE_MAX, anything from 2^48 bytes up,
 * a count*size that overflows) return NULL with errno ENOMEM.
 */
#ifndef MEMBRIDGE_H
#define MEMBRIDGE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* MEMBRIDGE_MAX_TAGS is how many tags the C side can register, the
 * default tag included. */
#define MEMBRIDGE_MAX_TAGS 64

/* MEMBRIDGE_TAG_MAX_LEN is the longest tag name, in bytes. */
#define MEMBRIDGE_TAG_MAX_LEN 47

/* MEMBRIDGE_TAG_DEFAULT is the tag of allocations made with a tag that was
 * never registered: its name is "c-extension". */
#define MEMBRIDGE_TAG_DEFAULT 0

/* membridge_tag registers a tag (what the memory is for, as reports will
 * show it) and returns its index, or returns the index it already has.
 * It returns -1 for an empty or too long name, or when all
 * MEMBRIDGE_MAX_TAGS tags are in use. Call it once per tag and keep the
 * index: it takes a lock. */
int membridge_tag(const char *name);

/* membridge_tag_name returns a registered tag's name, or NULL. */
const char *membridge_tag_name(int tag);

/* membridge_malloc returns n bytes (n may be 0) aligned as malloc aligns
 * them (16 bytes on 64-bit glibc), counted under tag, or NULL with errno
 * ENOMEM when the C heap is exhausted or n is too large. An index that is
 * not registered counts under MEMBRIDGE_TAG_DEFAULT. */
void *membridge_malloc(int tag, size_t n);

/* membridge_calloc returns count*size zeroed bytes, or NULL with errno
 * ENOMEM (also when count*size overflows). */
void *membridge_calloc(int tag, size_t count, size_t size);

/* membridge_realloc resizes a block, keeping its contents up to the
 * smaller size, and counts it under tag from now on. p == NULL is
 * membridge_malloc; n == 0 frees p and returns NULL. On failure it returns
 * NULL with errno ENOMEM and p is unchanged. A p that is not a live block
 * membridge_free could free aborts. */
void *membridge_realloc(int tag, void *p, size_t n);

/* membridge_free frees a block from membridge_malloc, membridge_calloc or
 * membridge_realloc, or a block Go handed to C. NULL is ignored. A block
 * that a Go handle owns must be freed from Go: freeing it here aborts, as
 * does any pointer that is not a live block (see the top of this file). */
void membridge_free(void *p);

/* membridge_size returns the size asked for when p was allocated; it
 * aborts when p is not a live block. */
size_t membridge_size(const void *p);

/* A membridge_allocator is the allocation interface many C libraries
 * accept (zlib, zstd, libpng, lua, ... each under its own names): function
 * pointers and an opaque context passed back to them. Its functions count
 * under the tag it was made for. Adapt it to a library with a few lines
 * (cext/ctest/test_membridge.c shows zlib). */
typedef struct membridge_allocator {
	void *(*malloc)(void *ctx, size_t n);
	void *(*calloc)(void *ctx, size_t count, size_t size);
	void *(*realloc)(void *ctx, void *p, size_t n);
	void (*free)(void *ctx, void *p);
	void *ctx; /* holds the tag */
} membridge_allocator;

/* membridge_allocator_for returns an allocator counting under tag. */
membridge_allocator membridge_allocator_for(int tag);

/* membridge_tag_stats is one tag's counters as the C side keeps them
 * (blocks traced into the Go ledger and blocks owned by Go handles are
 * counted there, not here). */
typedef struct membridge_tag_stats {
	int64_t live_bytes, live_count;
	int64_t peak_bytes; /* highest live_bytes seen; exact to within 32 KiB
	                     * per thread that allocates under the tag */
	int64_t alloc_bytes, alloc_count; /* since start */
	int64_t freed_bytes, freed_count; /* since start */
} membridge_tag_stats;

/* membridge_read_tag_stats fills *out with tag's counters and returns 0,
 * or returns -1 when tag is not registered. Counters are read one by one
 * without stopping writers: under concurrent use they are each exact but
 * not a consistent snapshot. */
int membridge_read_tag_stats(int tag, membridge_tag_stats *out);

/* membridge_tag_count returns how many tags are registered (indices
 * 0..count-1). */
int membridge_tag_count(void);

#ifdef __cplusplus
}
#endif

#endif
