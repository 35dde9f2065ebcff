package native

import (
	"fmt"
	"sync"
	"unsafe"

	"github.com/membridge/membridge/tracker"
)

// In the checked mode (tracker.Checking()) memory this package gives back is
// made inaccessible rather than reused where it owns whole pages: arena
// chunks after Reset or Free, and buffers and chunks the safety net
// reclaims after their handle was dropped. A read or write through a
// pointer or slice kept past that point then faults at the instruction,
// and the fault handler (mb_protect.c) prints the description given
// here, which names the memory's tag and allocation site, before the Go
// runtime reports the fault.
//
// So that the safety net's reclaims can be quarantined too, the checked mode
// gives small buffers pages of their own (paged buffers), not malloc's
// memory: a buffer of up to a page takes one from a pool of mapped pages,
// and gives it back, poisoned, at Free (a page from the pool costs no
// system call: the checked mode's alloc+free stays as fast as it was over
// malloc); a larger one is mapped for itself and unmapped at Free. The
// price is memory: a page per live small buffer, in the checked mode only.
// Memory that is not ours to keep (adopted blocks, which go to their
// deleter) is never quarantined.

// quarantineMax bounds the quarantined regions of all owners together;
// past it the oldest are given back, so that a program with an arena per
// request keeps a bounded number of mappings.
const quarantineMax = 1024

type quarantined struct {
	p     uintptr
	n     int
	slot  int                // in the fault handler's table
	evict func(uintptr, int) // gives the memory back, when it leaves the quarantine
}

var quarantine struct {
	sync.Mutex
	regions []quarantined // oldest first
}

// quarantineMem makes [p, p+n) (whole pages) inaccessible, so that a use
// faults and the handler prints desc, and keeps it until quarantineMax
// newer regions have come; then evict gives it back. When the pages
// cannot be protected, evict runs at once.
func quarantineMem(p uintptr, n int, desc string, evict func(uintptr, int)) {
	if err := cProtect(p, n, protNone); err != nil {
		evict(p, n)
		return
	}
	q := quarantined{p: p, n: n, slot: cProtectRegister(p, n, desc), evict: evict}
	quarantine.Lock()
	quarantine.regions = append(quarantine.regions, q)
	var old []quarantined
	if over := len(quarantine.regions) - quarantineMax; over > 0 {
		old = append(old, quarantine.regions[:over]...)
		quarantine.regions = append(quarantine.regions[:0], quarantine.regions[over:]...)
	}
	quarantine.Unlock()
	for _, o := range old {
		cProtectUnregister(o.slot)
		o.evict(o.p, o.n)
	}
}

// unmapPages is the eviction of memory from cProtectMap.
func unmapPages(p uintptr, n int) { cProtectUnmap(p, n) }

// pageSize is the operating system's page size.
var pageSize = cPageSize()

// pagePool holds mapped pages for buffers of up to a page in the debug
// mode. It grows by pageSlab pages at a time and never shrinks.
var pagePool struct {
	sync.Mutex
	free []unsafe.Pointer // C memory: the collector ignores these
}

const pageSlab = 64

// pagedAlloc returns n > 0 bytes on pages of their own, for a small buffer
// in the checked mode, filled as f says, or nil.
func pagedAlloc(n int, f fill) unsafe.Pointer {
	var p unsafe.Pointer
	if n > pageSize {
		if p = cProtectMap(n); p == nil {
			return nil
		}
		if f == fillZero {
			return p // fresh mapped pages are zero already
		}
	} else if p = takePage(); p == nil {
		return nil
	}
	switch f {
	case fillJunk:
		fillBytes(unsafe.Slice((*byte)(p), n), 0xCD) // the fresh-memory poison of mb_alloc.h
	case fillZero:
		clear(unsafe.Slice((*byte)(p), n))
	}
	return p
}

func takePage() unsafe.Pointer {
	pagePool.Lock()
	defer pagePool.Unlock()
	if len(pagePool.free) == 0 {
		slab := cProtectMap(pageSlab * pageSize)
		if slab == nil {
			return nil
		}
		for i := range pageSlab {
			pagePool.free = append(pagePool.free, unsafe.Add(slab, i*pageSize))
		}
	}
	p := pagePool.free[len(pagePool.free)-1]
	pagePool.free = pagePool.free[:len(pagePool.free)-1]
	return p
}

// pagedFree gives back a paged buffer's memory: a page goes back to the
// pool, poisoned with 0xDB (so a use after Free reads garbage, not data),
// larger ones are unmapped (a use faults).
func pagedFree(p unsafe.Pointer, n int) {
	if n > pageSize {
		cProtectUnmap(uintptr(p), n)
		return
	}
	fillBytes(unsafe.Slice((*byte)(p), n), 0xDB) // the freed-memory poison of mb_alloc.h
	pagePool.Lock()
	pagePool.free = append(pagePool.free, p)
	pagePool.Unlock()
}

// fillBytes sets every byte of s to v, by doubling copies.
func fillBytes(s []byte, v byte) {
	if len(s) == 0 {
		return
	}
	s[0] = v
	for i := 1; i < len(s); i *= 2 {
		copy(s[i:], s[:i])
	}
}

// pagedReclaim quarantines a paged buffer whose handle was dropped; when
// it leaves the quarantine its memory goes back as at Free.
var pagedReclaim = tracker.ReclaimFunc(func(r *tracker.Record) {
	unmarkOwned(r.Addr())
	quarantineMem(r.Addr(), int(r.Bytes()), droppedDesc("*Buffer", "buffer", r), func(p uintptr, n int) {
		if n > pageSize {
			cProtectUnmap(p, n)
			return
		}
		if cProtect(p, n, protRW) == nil {
			pagedFree(unsafe.Add(unsafe.Pointer(nil), p), n)
		}
	})
})

// droppedDesc is the fault message of memory the safety net reclaimed
// after its handle (a *Buffer, an *Arena) was dropped.
func droppedDesc(handle, what string, r *tracker.Record) string {
	return fmt.Sprintf("use of memory the safety net reclaimed: the %s of a %d-byte %s (tag %q%s) was dropped while the memory was still in use; keep the %s reachable until the last use (Free after it, or runtime.KeepAlive)",
		handle, r.Bytes(), what, r.Tag(), sites(r), handle)
}
