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
 * Every block carries a 16-byte header before the pointer returned (size,
 * tag, owner, magic). The header lets membridge_free know the size and
 * refuse pointers it did not allocate.
 *
 * Thread safety: all functions may be called from any thread at any time.
 * Allocation and free take no lock and make no atomic read-modify-write in
 * the common case: counters live in per-thread slots that only their
 * thread writes (see membridge.c). Registering a tag takes a mutex (do it
 * once).
 *
 * Misuse aborts with a message on stderr naming the function, the pointer
 * and what was wrong ("membridge: membridge_free(0x...): not a membridge
 * block (foreign pointer, or freed twice)"); it never corrupts the heap.
 * A second free is detected by the header check in most cases; large
 * blocks that glibc gave back to the kernel cannot be checked without
 * touching unmapped memory, and AddressSanitizer or valgrind catch those.
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

/* membridge_malloc returns n bytes (n may be 0) aligned to 16 bytes,
 * counted under tag, or NULL when the C heap is exhausted. An index that
 * is not registered counts under MEMBRIDGE_TAG_DEFAULT. */
void *membridge_malloc(int tag, size_t n);

/* membridge_calloc returns count*size zeroed bytes, or NULL (also when
 * count*size overflows). */
void *membridge_calloc(int tag, size_t count, size_t size);

/* membridge_realloc resizes a block, keeping its contents up to the
 * smaller size, and counts it under tag from now on. p == NULL is
 * membridge_malloc; n == 0 frees p and returns NULL. On failure it returns
 * NULL and p is unchanged. */
void *membridge_realloc(int tag, void *p, size_t n);

/* membridge_free frees a block from membridge_malloc, membridge_calloc or
 * membridge_realloc, or a block Go handed to C. NULL is ignored. A block
 * that a Go handle owns must be freed from Go: freeing it here aborts. */
void membridge_free(void *p);

/* membridge_size returns the size asked for when p was allocated. */
size_t membridge_size(const void *p);

/* A membridge_allocator is the allocation interface many C libraries
 * accept (zlib, zstd, libpng, lua, ... each under its own names): function
 * pointers and an opaque context passed back to them. Its functions count
 * under the tag it was made for. Adapt it to a library with a few lines
 * (csrc/test/test_membridge.c shows zlib). */
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
