package main

// #include <stdlib.h>
// #include <sys/mman.h>
//
// static void *fp_mmap(size_t n) {
// 	void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
// 	return p == MAP_FAILED ? NULL : p;
// }
// static void fp_munmap(void *p, size_t n) { munmap(p, n); }
import "C"

import "unsafe"

// The alternatives membridge's large-buffer path is measured against: glibc
// malloc called through cgo, and one mmap per buffer.

func cMalloc(n int) unsafe.Pointer { return C.malloc(C.size_t(n)) }

func cFree(p unsafe.Pointer) { C.free(p) }

func cMmap(n int) unsafe.Pointer { return C.fp_mmap(C.size_t(n)) }

func cMunmap(p unsafe.Pointer, n int) { C.fp_munmap(p, C.size_t(n)) }
