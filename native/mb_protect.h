/* mb_protect.h: write-protected pages for frozen buffers in the debug mode,
 * and a SIGSEGV handler that names the frozen buffer a faulting write hit
 * before it hands the signal on to the handler installed before it (the
 * Go runtime's), which reports the faulting instruction. */
#ifndef MEMBRIDGE_MB_PROTECT_H
#define MEMBRIDGE_MB_PROTECT_H

#include <stddef.h>
#include <stdint.h>

/* mb_protect_map returns n bytes (rounded up to pages) of fresh read-write
 * pages, or NULL. */
void *mb_protect_map(size_t n);

/* mb_protect_unmap gives back pages from mb_protect_map. */
void mb_protect_unmap(uintptr_t addr, size_t n);

/* Protection modes for mb_protect_set. */
enum mb_protection {
	MB_PROT_RW = 0,  /* read and write */
	MB_PROT_RO = 1,  /* read only: frozen buffers */
	MB_PROT_NONE = 2 /* no access: arena chunks after Reset in the debug mode */
};

/* mb_protect_set sets the protection of the pages of [addr, addr+n); addr
 * must be page-aligned. Returns 0 or an errno. */
int mb_protect_set(uintptr_t addr, size_t n, int mode);

/* mb_protect_register remembers [addr, addr+n) as protected memory
 * described by desc (copied, truncated to 511 bytes); the SIGSEGV handler
 * prints "membridge: " and desc when a fault lands in the range. It
 * installs the handler on first use. Returns a slot for
 * mb_protect_unregister, or -1 when the table is full (the fault then
 * still happens, without the description). */
int mb_protect_register(uintptr_t addr, size_t n, const char *desc);

void mb_protect_unregister(int slot);

/* mb_protect_page_size returns the page size. */
size_t mb_protect_page_size(void);

#endif
