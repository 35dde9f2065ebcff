/* mb_protect.c: see mb_protect.h. */
#define _GNU_SOURCE
#include "mb_protect.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define MAX_REGIONS 4096
#define DESC_LEN 512

/* The handler reads the table without a lock (it may not take one): a
 * slot is published by storing its end last, with release order, and
 * retired by zeroing its end first. */
struct region {
	uintptr_t start;
	uintptr_t end; /* 0: free slot */
	char desc[DESC_LEN];
};

static struct region regions[MAX_REGIONS];
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct sigaction previous;
static int installed;

size_t mb_protect_page_size(void)
{
	long v = sysconf(_SC_PAGESIZE);
	return v > 0 ? (size_t)v : 4096;
}

static size_t round_pages(size_t n)
{
	size_t ps = mb_protect_page_size();
	return (n + ps - 1) / ps * ps;
}

void *mb_protect_map(size_t n)
{
	void *p = mmap(NULL, round_pages(n), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

void mb_protect_unmap(uintptr_t addr, size_t n)
{
	munmap((void *)addr, round_pages(n));
}

int mb_protect_set(uintptr_t addr, size_t n, int mode)
{
	int prot = PROT_READ | PROT_WRITE;
	if (mode == MB_PROT_RO) {
		prot = PROT_READ;
	} else if (mode == MB_PROT_NONE) {
		prot = PROT_NONE;
	}
	if (mprotect((void *)addr, round_pages(n), prot) != 0) {
		return errno;
	}
	if (mode == MB_PROT_NONE) {
		/* nothing will read these pages again: let the kernel have them */
		madvise((void *)addr, round_pages(n), MADV_DONTNEED);
	}
	return 0;
}

static void say(const char *s)
{
	size_t n = strlen(s);
	while (n > 0) {
		ssize_t w = write(2, s, n);
		if (w <= 0) {
			return;
		}
		s += w;
		n -= (size_t)w;
	}
}

static void on_segv(int sig, siginfo_t *info, void *uctx)
{
	uintptr_t a = (uintptr_t)info->si_addr;
	for (int i = 0; i < MAX_REGIONS; i++) {
		uintptr_t end = __atomic_load_n(&regions[i].end, __ATOMIC_ACQUIRE);
		if (end != 0 && a >= regions[i].start && a < end) {
			say("membridge: ");
			say(regions[i].desc);
			say("\n");
			break;
		}
	}
	/* Hand the signal on: the Go runtime turns it into a crash report (or a
	 * panic, with debug.SetPanicOnFault) at the faulting instruction. */
	if (previous.sa_flags & SA_SIGINFO) {
		previous.sa_sigaction(sig, info, uctx);
	} else if (previous.sa_handler == SIG_DFL || previous.sa_handler == SIG_IGN) {
		signal(sig, SIG_DFL);
		raise(sig);
	} else {
		previous.sa_handler(sig);
	}
}

static void install(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_segv;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
	sigfillset(&sa.sa_mask);
	if (sigaction(SIGSEGV, &sa, &previous) == 0) {
		installed = 1;
	}
}

int mb_protect_register(uintptr_t addr, size_t n, const char *desc)
{
	int slot = -1;
	pthread_mutex_lock(&mu);
	if (!installed) {
		install();
	}
	for (int i = 0; i < MAX_REGIONS; i++) {
		if (regions[i].end == 0) {
			slot = i;
			break;
		}
	}
	if (slot >= 0) {
		regions[slot].start = addr;
		strncpy(regions[slot].desc, desc, DESC_LEN - 1);
		regions[slot].desc[DESC_LEN - 1] = '\0';
		__atomic_store_n(&regions[slot].end, addr + round_pages(n), __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&mu);
	return slot;
}

void mb_protect_unregister(int slot)
{
	if (slot < 0 || slot >= MAX_REGIONS) {
		return;
	}
	pthread_mutex_lock(&mu);
	__atomic_store_n(&regions[slot].end, 0, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&mu);
}
