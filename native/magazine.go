package native

import (
	"sync"
	"unsafe"

	"github.com/membridge/membridge/internal/gctick"
	"github.com/membridge/membridge/internal/proc"
	"github.com/membridge/membridge/tracker"
)

// Small buffers come from per-P magazines of C blocks. A cgo call costs
// more than malloc and free themselves, so a small Alloc takes a block
// from the magazine of its processor (P) and a Free puts it back there:
// neither calls C. A magazine is refilled from malloc, and drained back to
// free, in batches of half its capacity with one cgo call each.
//
// Blocks come in 40 size classes from 16 bytes to magMaxSize, four per
// doubling above 128 bytes, so a block wastes at most 15 bytes or a fifth
// of itself (malloc rounds too). A magazine keeps magClassBytes of a
// class, but at least 2 and at most magMaxBlocks blocks, so a P caches at
// most 650 KiB. Above magMaxSize a buffer's block is malloc'd and freed
// with a cgo call each: touching 32 KiB once costs many times that call.
//
// What the magazines hold is the ledger's cached state for KindCHeap
// (tracker.RegisterAllocatorCache): freed by the program, not given back
// to malloc, never live and never a leak. It goes back to malloc when a P
// leaves its magazine untouched between two garbage collections (idle),
// when an allocation runs out of memory (tracker.Relieve trims the
// allocator caches first), and on EmptyCache. In the checking mode the
// magazines are off: every block is malloc'd and freed, after poisoning,
// on its own, so AddressSanitizer and valgrind see each one.
//
// The magazines are a global array, not heap memory: C leak checkers
// (LeakSanitizer, valgrind) scan globals, so a cached block is reachable
// to them.
const (
	magMaxSize    = 32 << 10
	magClassBytes = 16 << 10
	magMaxBlocks  = 32
	magSlots      = 64 // a power of two; Ps beyond it share slots
	magClasses    = 40
)

// magazine is one P's cache of small C blocks. Its mutex is the P's own:
// it is contended only when a goroutine moved to another P between taking
// its slot and locking it, or while EmptyCache or a trim drains it.
type magazine struct {
	sync.Mutex
	used   bool  // taken from or given to since the last idle trim
	bytes  int64 // cached here, at class sizes
	blocks int64
	n      [magClasses]uint8
	held   [magClasses][magMaxBlocks]uintptr
	_      [64]byte
}

var mags [magSlots]magazine

// The classes: their sizes, how many blocks a magazine keeps of each, and
// two tables from a size to its class (by 16 bytes up to 1 KiB, by 128
// bytes above).
var (
	classSize  [magClasses]int
	classCap   [magClasses]uint8
	classBy16  [1024/16 + 1]uint8
	classBy128 [magMaxSize/128 + 1]uint8
)

func init() {
	c := 0
	for size := 16; size <= 128; size += 16 {
		classSize[c] = size
		c++
	}
	for base := 128; base < magMaxSize; base *= 2 {
		for step := 1; step <= 4; step++ {
			classSize[c] = base + step*base/4
			c++
		}
	}
	if c != magClasses || classSize[c-1] != magMaxSize {
		panic("membridge: native: magazine classes do not add up")
	}
	for i := range classSize {
		classCap[i] = uint8(min(max(magClassBytes/classSize[i], 2), magMaxBlocks))
	}
	for i, k := 0, 0; i < len(classBy16); i++ {
		for classSize[k] < i*16 {
			k++
		}
		classBy16[i] = uint8(k)
	}
	for i, k := 0, 0; i < len(classBy128); i++ {
		for classSize[k] < i*128 {
			k++
		}
		classBy128[i] = uint8(k)
	}
	tracker.RegisterAllocatorCache("native: magazines", magCache{})
	gctick.Every(trimIdle)
}

// sizeClass returns the class of n bytes, 0 < n <= magMaxSize.
func sizeClass(n int) int {
	if n <= 1024 {
		return int(classBy16[(n+15)>>4])
	}
	return int(classBy128[(n+127)>>7])
}

// mySlot returns the magazine of the P the caller runs on now (it may
// move; the magazine's lock keeps that correct).
func mySlot() *magazine {
	return &mags[proc.Current()&(magSlots-1)]
}

// magAlloc returns a block for n bytes (0 < n <= magMaxSize) from the
// caller's magazine, refilling it when empty, or 0 when malloc failed.
func magAlloc(n int) uintptr {
	c := sizeClass(n)
	m := mySlot()
	m.Lock()
	if k := m.n[c]; k > 0 {
		k--
		p := m.held[c][k]
		m.n[c] = k
		m.bytes -= int64(classSize[c])
		m.blocks--
		m.used = true
		m.Unlock()
		return p
	}
	m.Unlock()
	return m.refill(c)
}

// mallocAlign is the alignment of malloc's blocks on 64-bit Linux, and so
// of the magazines': a buffer aligned to more comes from malloc on its own.
const mallocAlign = 16

// magAllocFilled is magAlloc with the block filled as f says, as a
// pointer (nil: malloc failed).
func magAllocFilled(n int, f fill) unsafe.Pointer {
	addr := magAlloc(n)
	// A C block's address: the garbage collector neither moves nor
	// frees it, so holding it as a uintptr in between is safe.
	p := *(*unsafe.Pointer)(unsafe.Pointer(&addr))
	if p == nil {
		return nil
	}
	switch f {
	case fillZero:
		clear(unsafe.Slice((*byte)(p), n))
	case fillJunk:
		fillBytes(unsafe.Slice((*byte)(p), n), 0xCD) // the fresh-memory poison of mb_alloc.h
	}
	return p
}

// refill mallocs half a magazine of class c in one cgo call, keeps all but
// one block and returns that one (0: malloc failed).
func (m *magazine) refill(c int) uintptr {
	var batch [magMaxBlocks / 2]uintptr
	got := cAllocBatch(classSize[c], batch[:max(int(classCap[c])/2, 1)])
	if got == 0 {
		return 0
	}
	m.Lock()
	k := int(m.n[c])
	kept := min(got-1, int(classCap[c])-k)
	copy(m.held[c][k:], batch[1:1+kept])
	m.n[c] = uint8(k + kept)
	m.bytes += int64(kept * classSize[c])
	m.blocks += int64(kept)
	m.used = true
	m.Unlock()
	if got-1 > kept { // another goroutine filled the magazine meanwhile
		cFreeBatch(batch[1+kept : got])
	}
	return batch[0]
}

// magFree puts the block of a buffer of n bytes (0 < n <= magMaxSize)
// from magAlloc back in the caller's magazine; a full magazine first gives
// half of its blocks of the class back to free, in one cgo call.
func magFree(p uintptr, n int) {
	c := sizeClass(n)
	m := mySlot()
	m.Lock()
	m.used = true
	k := int(m.n[c])
	if k < int(classCap[c]) {
		m.held[c][k] = p
		m.n[c] = uint8(k + 1)
		m.bytes += int64(classSize[c])
		m.blocks++
		m.Unlock()
		return
	}
	var batch [magMaxBlocks / 2]uintptr
	h := max(k/2, 1)
	copy(batch[:], m.held[c][k-h:k])
	m.held[c][k-h] = p
	m.n[c] = uint8(k - h + 1)
	m.bytes -= int64((h - 1) * classSize[c])
	m.blocks -= int64(h - 1)
	m.Unlock()
	cFreeBatch(batch[:h])
}

// drain gives every block m holds back to free when all is set or m was
// not used since the last drain, and returns the bytes given back.
func (m *magazine) drain(all bool) (bytes int64) {
	var batch [magMaxBlocks]uintptr
	for c := range magClasses {
		m.Lock()
		if c == 0 && !all && m.used {
			m.used = false
			m.Unlock()
			return 0
		}
		k := int(m.n[c])
		copy(batch[:], m.held[c][:k])
		m.n[c] = 0
		m.bytes -= int64(k * classSize[c])
		m.blocks -= int64(k)
		if c == magClasses-1 {
			m.used = false
		}
		m.Unlock()
		cFreeBatch(batch[:k])
		bytes += int64(k * classSize[c])
	}
	return bytes
}

// trimIdle runs after every garbage collection: a magazine no P has used
// since the previous collection goes back to malloc.
func trimIdle() {
	for i := range mags {
		mags[i].drain(false)
	}
}

// EmptyCache gives every small block the magazines hold back to malloc
// and returns their bytes (at their size classes). The magazines refill as
// the program allocates again; a program calls it before handing memory to
// something outside Go that will need it, or to measure malloc's own use.
// Memory pressure does the same by itself: an allocation that finds malloc
// out of memory trims every allocator cache before it retries.
func EmptyCache() int64 {
	var bytes int64
	for i := range mags {
		bytes += mags[i].drain(true)
	}
	return bytes
}

// magCache shows the magazines to the ledger.
type magCache struct{}

func (magCache) Cached(dst []tracker.Cached) []tracker.Cached {
	var bytes, blocks int64
	for i := range mags {
		m := &mags[i]
		m.Lock()
		bytes += m.bytes
		blocks += m.blocks
		m.Unlock()
	}
	return append(dst, tracker.Cached{Kind: KindCHeap, Device: -1, Bytes: bytes, Blocks: blocks})
}

func (magCache) Trim(s tracker.Shortage) int64 {
	if s.Cause != tracker.ShortOfMemory {
		return 0 // cached blocks count against no limit
	}
	return EmptyCache()
}
