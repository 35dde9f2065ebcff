/* mb_alloc.h: the C heap primitives of packages native and cuda (host
 * backend). Sizes and alignments are validated in Go before they reach
 * these. */
#ifndef MEMBRIDGE_MB_ALLOC_H
#define MEMBRIDGE_MB_ALLOC_H

#include <stddef.h>
#include <stdint.h>

/* Fill patterns, chosen to look like neither zeroes nor plausible data. */
#define MB_POISON_FREED 0xDB /* written over memory just before it is freed */
#define MB_POISON_FRESH 0xCD /* written over fresh memory in debug mode */

enum mb_fill {
	MB_FILL_NONE = 0, /* leave fresh memory as malloc returned it */
	MB_FILL_ZERO = 1, /* zero it */
	MB_FILL_JUNK = 2  /* fill it with MB_POISON_FRESH */
};

/* mb_alloc returns n bytes (n > 0) aligned to align (a power of two, or 0
 * for malloc's own alignment), filled as fill says, or NULL. */
void *mb_alloc(size_t n, size_t align, int fill);

/* mb_free frees memory from mb_alloc, given as an address, after writing
 * MB_POISON_FREED over its n bytes when poison is non-zero. */
void mb_free(uintptr_t addr, size_t n, int poison);

/* mb_free_batch frees n blocks from mb_alloc, given as addresses: package
 * native batches the frees of small buffers, one cgo call for many. */
void mb_free_batch(const uintptr_t *addrs, size_t n);

/* mb_alloc_batch mallocs up to n blocks of size bytes (size > 0) into out
 * and returns how many it got (fewer when malloc fails): package native
 * refills its per-P magazines of small blocks with it, one cgo call for
 * many. */
size_t mb_alloc_batch(size_t size, uintptr_t *out, size_t n);

/* mb_call_deleter calls a C library's deleter on memory it allocated. */
void mb_call_deleter(void (*deleter)(void *), void *p);

/* mb_libc_free is libc's free behind a name of ours, for Go code that needs
 * a C function pointer to it. */
void mb_libc_free(void *p);

#endif
