package native

import (
	"slices"
	"sort"
	"sync"
	"sync/atomic"
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
// The map costs one byte per 16 bytes of the address range where small
// buffers live, in the pages that marks are written to: at most 1/16 of
// that range when blocks are packed densely, far less when they are
// spread. Large buffers and arena chunks, made rarely and big, are kept
// as whole ranges in a sorted set instead (ownedRanges), so that a pointer
// anywhere into them is found and they cost no pages of marks. Addresses
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

// owned reports whether p is marked owned, lies in a marked granule or in
// a marked range.
func owned(p uintptr) bool {
	if b := ownedByte(p, false); b != nil && *b != 0 {
		return true
	}
	if inOwnedRange(p) {
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

// ownedRanges holds the large buffers and arena chunks: owned ranges,
// sorted by start, none overlapping another.
var ownedRanges struct {
	sync.Mutex
	r []ownedRange
}

type ownedRange struct{ start, end uintptr }

// rangeAt returns the index of the last range that starts at or before p,
// or -1. The caller holds ownedRanges.
func rangeAt(p uintptr) int {
	r := ownedRanges.r
	i := sort.Search(len(r), func(i int) bool { return r[i].start > p })
	return i - 1
}

// markOwnedRange marks [p, p+n) owned, for a large buffer or an arena
// chunk.
func markOwnedRange(p uintptr, n int) {
	ownedRanges.Lock()
	i := rangeAt(p) + 1
	ownedRanges.r = slices.Insert(ownedRanges.r, i, ownedRange{p, p + uintptr(max(n, 1))})
	ownedRanges.Unlock()
}

// unmarkOwnedRange ends the range markOwnedRange(p, ...) marked.
func unmarkOwnedRange(p uintptr) {
	ownedRanges.Lock()
	if i := rangeAt(p); i >= 0 && ownedRanges.r[i].start == p {
		ownedRanges.r = slices.Delete(ownedRanges.r, i, i+1)
	}
	ownedRanges.Unlock()
}

// inOwnedRange reports whether p lies in a marked range.
func inOwnedRange(p uintptr) bool {
	ownedRanges.Lock()
	defer ownedRanges.Unlock()
	i := rangeAt(p)
	return i >= 0 && p < ownedRanges.r[i].end
}
