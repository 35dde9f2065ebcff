package native

import (
	"sync"
	"sync/atomic"
	"unsafe"
)

// The owned map marks where memory this package owns begins, so that
// Adopt can refuse a pointer that is already owned (its deleter would free
// the memory a second time) without walking the ledger. It holds one byte
// per 16 bytes (malloc's alignment) of the address space, in three levels
// like a page table: a top array in the program's data, nodes of 64 GiB
// (Go memory, a few KiB each) and leaves of 64 MiB (4 MiB of bytes,
// mapped from the operating system, so only the pages that are written
// take memory), made the first time memory in their range is owned and
// kept for the life of the process.
//
// A buffer or an adopted block sets the byte of its first granule when it
// is made and clears it before its memory is freed, handed to C or given
// to its deleter. Those are plain stores, no atomic instruction, on lines
// that malloc's reuse of blocks keeps in cache: a few nanoseconds per
// allocation. The leaves are not Go memory, so the race detector does not
// watch them; what orders a store before the check that must see it is
// what orders any use of the pointer: the caller passing b.Ptr() on. Adopts
// decide among themselves under adoptMu, so of concurrent Adopts of one
// block exactly one succeeds.
//
// An arena chunk sets the bytes of its whole range (a chunk is made
// rarely), so a pointer into an arena allocation is found too. Addresses
// past 47 bits are not mapped.
//
// Buffers start on 16 bytes, but a C library may hand Adopt any address:
// an adopted block that does not start on a granule is kept in a small set
// of its own (oddOwned) instead, so that two such blocks in one granule do
// not take each other for the same.
const (
	ownedGranuleShift = 4  // 16 bytes per byte of the map
	ownedLeafShift    = 26 // 64 MiB per leaf
	ownedNodeShift    = 36 // 64 GiB per node
	ownedAddrBits     = 47
	granule           = 1 << ownedGranuleShift
)

type (
	ownedLeaf [1 << (ownedLeafShift - ownedGranuleShift)]byte
	ownedNode [1 << (ownedNodeShift - ownedLeafShift)]atomic.Pointer[ownedLeaf]
)

var ownedTop [1 << (ownedAddrBits - ownedNodeShift)]atomic.Pointer[ownedNode]

// ownedByte returns p's byte of the map, making the levels on the way when
// create is set; nil when p is past the mapped addresses, or (create
// unset) nothing near p was ever owned, or a leaf could not be mapped.
func ownedByte(p uintptr, create bool) *byte {
	if p>>ownedAddrBits != 0 {
		return nil
	}
	top := &ownedTop[p>>ownedNodeShift]
	node := top.Load()
	if node == nil {
		if !create {
			return nil
		}
		top.CompareAndSwap(nil, new(ownedNode))
		node = top.Load()
	}
	slot := &node[(p>>ownedLeafShift)&(1<<(ownedNodeShift-ownedLeafShift)-1)]
	leaf := slot.Load()
	if leaf == nil {
		if !create {
			return nil
		}
		if leaf = newOwnedLeaf(slot); leaf == nil {
			return nil
		}
	}
	return &leaf[(p>>ownedGranuleShift)&(1<<(ownedLeafShift-ownedGranuleShift)-1)]
}

var leafMu sync.Mutex

// newOwnedLeaf maps the leaf of slot, once.
func newOwnedLeaf(slot *atomic.Pointer[ownedLeaf]) *ownedLeaf {
	leafMu.Lock()
	defer leafMu.Unlock()
	if l := slot.Load(); l != nil {
		return l
	}
	l := (*ownedLeaf)(cProtectMap(len(ownedLeaf{})))
	slot.Store(l) // nil when the mapping failed: a later call tries again
	return l
}

// markOwned marks p owned, for a buffer's block: the allocation path.
func markOwned(p uintptr) {
	if p%granule != 0 {
		markOdd(p)
		return
	}
	if b := ownedByte(p, true); b != nil {
		*b = 1
	}
}

// unmarkOwned ends what markOwned or claimOwned did for p.
func unmarkOwned(p uintptr) {
	if p%granule != 0 {
		oddOwned.Lock()
		delete(oddOwned.m, p)
		oddOwned.Unlock()
		return
	}
	if b := ownedByte(p, false); b != nil {
		*b = 0
	}
}

// claimOwned marks p owned for an Adopt and reports whether it was not.
// The caller holds adoptMu. An address the map does not cover counts as
// not owned. For p off a granule the answer is also no when the granule is
// marked: p lies in the first bytes of an owned block, or in an arena
// chunk.
func claimOwned(p uintptr) bool {
	if owned(p) {
		return false
	}
	markOwned(p)
	return true
}

var adoptMu sync.Mutex

// oddOwned holds the adopted blocks that do not start on a granule.
var oddOwned struct {
	sync.Mutex
	m map[uintptr]struct{}
}

func markOdd(p uintptr) {
	oddOwned.Lock()
	if oddOwned.m == nil {
		oddOwned.m = map[uintptr]struct{}{}
	}
	oddOwned.m[p] = struct{}{}
	oddOwned.Unlock()
}

// owned reports whether p is marked owned, or lies in a marked granule.
func owned(p uintptr) bool {
	if b := ownedByte(p, false); b != nil && *b != 0 {
		return true
	}
	if p%granule == 0 {
		return false
	}
	oddOwned.Lock()
	defer oddOwned.Unlock()
	_, ok := oddOwned.m[p]
	return ok
}

// markOwnedRange marks every granule in [p, p+n), for arena chunks.
func markOwnedRange(p uintptr, n int) { setOwnedRange(p, n, 1) }

// unmarkOwnedRange clears them.
func unmarkOwnedRange(p uintptr, n int) { setOwnedRange(p, n, 0) }

func setOwnedRange(p uintptr, n int, v byte) {
	end := p + uintptr(max(n, 1))
	for q := p &^ (granule - 1); q < end; {
		// The granules of [q, end) in q's leaf, at once.
		leafEnd := q | (1<<ownedLeafShift - 1) + 1
		k := (min(end, leafEnd) - q + granule - 1) / granule
		if b := ownedByte(q, v != 0); b != nil {
			s := unsafe.Slice(b, k)
			for i := range s {
				s[i] = v
			}
		}
		q += k * granule
	}
}
