/* mb_large.c: see mb_large.h. */
#include "mb_large.h"
#include "mb_alloc.h"

#include <pthread.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* Size classes: sizes are rounded up to pages, then to one eighth of their
 * power of two, so a reused region is at most 12.5% larger than asked. */
#define CLASS_STEPS 8
#define NUM_CLASSES (CLASS_STEPS * 40)

/* Kept memory is bounded by one sixteenth of the bytes in use, and never
 * less than this, so a program that frees a batch and then allocates the
 * next reuses most of it. */
#define MIN_KEEP ((size_t)4 << 20)

struct free_region {
	struct free_region *next;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct free_region *lists[NUM_CLASSES];
static size_t list_bytes[NUM_CLASSES];
static struct mb_large_stats stats;

static size_t page_size(void)
{
	static size_t ps;
	if (ps == 0) {
		long v = sysconf(_SC_PAGESIZE);
		ps = v > 0 ? (size_t)v : 4096;
	}
	return ps;
}

/* class_of rounds n up to its class size and returns the class, or -1 for
 * sizes too large to keep. */
static int class_of(size_t n, size_t *rounded)
{
	size_t ps = page_size();
	size_t pages = (n + ps - 1) / ps;
	int octave = 63 - __builtin_clzll((unsigned long long)pages);
	size_t step = octave >= 3 ? (size_t)1 << (octave - 3) : 1;
	pages = (pages + step - 1) / step * step;
	*rounded = pages * ps;
	if (octave < 3) {
		return -1; /* tiny: not expected on this path, never kept */
	}
	int cls = (octave - 3) * CLASS_STEPS + (int)(pages / step) - CLASS_STEPS;
	return cls < NUM_CLASSES ? cls : -1;
}

static void fill(void *p, size_t n, int how, int fresh)
{
	switch (how) {
	case MB_FILL_ZERO:
		if (!fresh) {
			memset(p, 0, n);
		}
		break;
	case MB_FILL_JUNK:
		/* Fresh pages are zero and were never anyone's data; only reused
		 * ones are filled, so stale contents cannot pass for new. */
		if (!fresh) {
			memset(p, MB_POISON_FRESH, n);
		}
		break;
	default:
		break;
	}
}

void *mb_large_alloc(size_t n, int how)
{
	size_t size;
	int cls = class_of(n, &size);
	void *p = NULL;

	pthread_mutex_lock(&mu);
	if (cls >= 0 && lists[cls] != NULL) {
		struct free_region *r = lists[cls];
		lists[cls] = r->next;
		list_bytes[cls] -= size;
		stats.kept_bytes -= size;
		stats.reuses++;
		p = r;
	}
	if (p != NULL) {
		stats.live_bytes += size;
	}
	pthread_mutex_unlock(&mu);
	if (p != NULL) {
		fill(p, n, how, 0);
		return p;
	}

	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		return NULL;
	}
	pthread_mutex_lock(&mu);
	stats.maps++;
	stats.live_bytes += size;
	pthread_mutex_unlock(&mu);
	fill(p, n, how, 1);
	return p;
}

void mb_large_free(uintptr_t addr, size_t n, int poison)
{
	void *p = (void *)addr;
	size_t size;
	int cls;

	if (p == NULL) {
		return;
	}
	cls = class_of(n, &size);
	pthread_mutex_lock(&mu);
	stats.live_bytes -= size;
	if (poison) {
		/* The debug mode's poison for large buffers is stronger than a
		 * fill pattern and cheaper than writing one: the pages go back to
		 * the kernel, so a use after free faults at the instruction. */
		stats.unmaps++;
		pthread_mutex_unlock(&mu);
		munmap(p, size);
		return;
	}
	size_t keep = stats.live_bytes / 16;
	if (keep < MIN_KEEP) {
		keep = MIN_KEEP;
	}
	if (cls >= 0 && stats.kept_bytes + size <= keep) {
		struct free_region *r = p;
		r->next = lists[cls];
		lists[cls] = r;
		list_bytes[cls] += size;
		stats.kept_bytes += size;
		pthread_mutex_unlock(&mu);
		return;
	}
	stats.unmaps++;
	pthread_mutex_unlock(&mu);
	munmap(p, size);
}

size_t mb_large_trim(size_t keep)
{
	size_t freed = 0;
	size_t ps = page_size();

	for (int cls = NUM_CLASSES - 1; cls >= 0; cls--) {
		for (;;) {
			struct free_region *r;
			size_t size;

			pthread_mutex_lock(&mu);
			r = lists[cls];
			if (r == NULL || stats.kept_bytes <= keep) {
				pthread_mutex_unlock(&mu);
				break;
			}
			lists[cls] = r->next;
			/* the class size: octave and step from the class index */
			size = (size_t)((cls % CLASS_STEPS) + CLASS_STEPS) << (cls / CLASS_STEPS);
			size *= ps;
			list_bytes[cls] -= size;
			stats.kept_bytes -= size;
			stats.unmaps++;
			pthread_mutex_unlock(&mu);
			munmap(r, size);
			freed += size;
		}
	}
	return freed;
}

void mb_large_stats(struct mb_large_stats *s)
{
	pthread_mutex_lock(&mu);
	*s = stats;
	pthread_mutex_unlock(&mu);
}
