package native

import (
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"unsafe"
)

// The owned map marks where memory this package owns begins, so that
// Adopt can refuse a pointer that is already owned (its deleter would free
// the memory a second time) without walking the ledger. It holds one byte
// per 16 bytes (malloc's alignment) of the address space, in leaves of
// 2 GiB of addresses (128 MiB of bytes, mapped from the operating system,
// so only the pages that are written take memory), found through one table
// in the program's data (64 Ki leaf pointers, 512 KiB, nearly all nil),
// each made the first time memory in its range is owned and kept for the
// life of the process.
//
// A buffer or an adopted block sets the byte of its first granule when it
// is made and clears it before its memory is freed, handed to C or given
// to its deleter. Those are a load of the leaf and a plain store, inlined
// into the allocation path, on lines that malloc's reuse of blocks keeps in
// cache: a nanosecond or two per allocation (a three-level map with calls
// cost 7 to 9% of an alloc+free pair). The leaves are not Go memory, so the
// race detector does not watch them; what orders a store before the check
// that must see it is what orders any use of the pointer: the caller
// passing b.Ptr() on. Adopts decide among themselves under adoptMu, so of
// concurrent Adopts of one block exactly one succeeds.
//
// The map costs one byte per 16 bytes of the address range where buffers
// live, in the pages that marks are written to: at most 1/16 of that range
// when blocks are packed densely, far less when they are spread. Buffers,
// large ones included, mark their first granule only: a pointer into the
// middle of a live buffer is caught by Adopt in the checked mode alone, which
// walks the ledger. Arena chunks, made rarely and handed out in pieces,
// are kept as whole ranges in a sorted set instead (ownedRanges), so that a
// pointer anywhere into them is found. Addresses past 47 bits are not
// mapped.
//
// Buffers start on 16 bytes, but a C library may hand Adopt any address:
// an adopted block that does not start on a granule is kept in a small set
// of its own (oddOwned) instead, so that two such blocks in one granule do
// not take each other for the same.
const (
	ownedGranuleShift = 4  // 16 bytes per byte of the map
	ownedLeafShift    = 31 // 2 GiB of addresses per leaf
	ownedAddrBits     = 47
	granule           = 1 << ownedGranuleShift
	ownedLeafBytes    = 1 << (ownedLeafShift - ownedGranuleShift)
)

type ownedLeaf [ownedLeafBytes]byte

// ownedLeaves holds each leaf (an *ownedLeaf), nil until it is mapped;
// read and written with atomic.LoadPointer and StorePointer, which inline
// where the generic atomic.Pointer would not.
var ownedLeaves [1 << (ownedAddrBits - ownedLeafShift)]unsafe.Pointer

// ownedByte returns p's byte of the map, or nil when p is past the mapped
// addresses or nothing near p was ever owned. Small enough to inline.
func ownedByte(p uintptr) *byte {
	if p>>ownedAddrBits != 0 {
		return nil
	}
	leaf := (*ownedLeaf)(atomic.LoadPointer(&ownedLeaves[p>>ownedLeafShift]))
	if leaf == nil {
		return nil
	}
	return &leaf[(p&(1<<ownedLeafShift-1))>>ownedGranuleShift]
}

var leafMu sync.Mutex

// newOwnedLeaf maps the leaf of p, once, and returns p's byte; nil when p
// is past the mapped addresses or the mapping failed (a later call tries
// again).
func newOwnedLeaf(p uintptr) *byte {
	if p>>ownedAddrBits != 0 {
		return nil
	}
	leafMu.Lock()
	defer leafMu.Unlock()
	slot := &ownedLeaves[p>>ownedLeafShift]
	if atomic.LoadPointer(slot) == nil {
		atomic.StorePointer(slot, cProtectMap(ownedLeafBytes))
	}
	return ownedByte(p)
}

// markOwned marks p owned, for a buffer's block: the allocation path.
func markOwned(p uintptr) {
	if b := ownedByte(p); b != nil && p%granule == 0 {
		*b = 1
		return
	}
	markOwnedSlow(p)
}

func markOwnedSlow(p uintptr) {
	if p%granule != 0 {
		markOdd(p)
		return
	}
	if b := newOwnedLeaf(p); b != nil {
		*b = 1
	}
}

// unmarkOwned ends what markOwned or claimOwned did for p.
func unmarkOwned(p uintptr) {
	if b := ownedByte(p); b != nil && p%granule == 0 {
		*b = 0
		return
	}
	unmarkOdd(p)
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

func unmarkOdd(p uintptr) {
	if p%granule != 0 {
		oddOwned.Lock()
		delete(oddOwned.m, p)
		oddOwned.Unlock()
	}
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
	if b := ownedByte(p); b != nil && *b != 0 {
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

// ownedRanges holds the arena chunks: owned ranges,
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

// markOwnedRange marks [p, p+n) owned, for an arena chunk.
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
