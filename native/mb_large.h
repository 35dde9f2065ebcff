/* mb_large.h: the large-buffer path of package native. Buffers of
 * hundreds of KiB and more get pages of their own from mmap; freed ones are
 * kept, up to a bound tied to the bytes in use, and handed out again to
 * buffers of the same size class, so a program that replaces large buffers
 * neither faults fresh pages in each time nor leaves freed memory stranded
 * in per-thread malloc arenas. */
#ifndef MEMBRIDGE_MB_LARGE_H
#define MEMBRIDGE_MB_LARGE_H

#include <stddef.h>
#include <stdint.h>

/* mb_large_alloc returns n bytes (n > 0) aligned to the page size, filled
 * as mb_alloc's fill says (MB_FILL_*; fresh pages are zero already, so the
 * junk fill applies to reused ones only), or NULL. */
void *mb_large_alloc(size_t n, int fill);

/* mb_large_free gives back memory from mb_large_alloc of n bytes. With
 * poison non-zero (the debug mode) the pages go straight back to the
 * kernel, so a later access faults, instead of being kept for reuse. */
void mb_large_free(uintptr_t addr, size_t n, int poison);

/* mb_large_trim unmaps kept free memory until at most keep bytes are kept
 * and returns the bytes it unmapped. */
size_t mb_large_trim(size_t keep);

struct mb_large_stats {
	uint64_t live_bytes;   /* handed out and not yet given back (class sizes) */
	uint64_t kept_bytes;   /* freed and kept for reuse */
	uint64_t maps;         /* mmap calls */
	uint64_t unmaps;       /* munmap calls */
	uint64_t reuses;       /* allocations served from kept memory */
};

void mb_large_stats(struct mb_large_stats *s);

#endif
