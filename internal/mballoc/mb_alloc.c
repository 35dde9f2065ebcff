#include <stdlib.h>
#include <string.h>

#include "mb_alloc.h"

void *mb_alloc(size_t n, size_t align, int fill) {
	void *p = NULL;
	if (align <= _Alignof(max_align_t)) {
		p = fill == MB_FILL_ZERO ? calloc(1, n) : malloc(n);
		if (p == NULL) {
			return NULL;
		}
		if (fill == MB_FILL_JUNK) {
			memset(p, MB_POISON_FRESH, n);
		}
		return p;
	}
	if (posix_memalign(&p, align, n) != 0) {
		return NULL;
	}
	if (fill == MB_FILL_ZERO) {
		memset(p, 0, n);
	} else if (fill == MB_FILL_JUNK) {
		memset(p, MB_POISON_FRESH, n);
	}
	return p;
}

void mb_free(uintptr_t addr, size_t n, int poison) {
	void *p = (void *)addr;
	if (poison && p != NULL) {
		memset(p, MB_POISON_FREED, n);
	}
	free(p);
}

void mb_free_batch(const uintptr_t *addrs, size_t n) {
	for (size_t i = 0; i < n; i++) {
		free((void *)addrs[i]);
	}
}

void mb_call_deleter(void (*deleter)(void *), void *p) {
	deleter(p);
}

void mb_libc_free(void *p) {
	free(p);
}

size_t mb_alloc_batch(size_t size, uintptr_t *out, size_t n) {
	size_t i = 0;
	for (; i < n; i++) {
		void *p = malloc(size);
		if (p == NULL) {
			break;
		}
		out[i] = (uintptr_t)p;
	}
	return i;
}
