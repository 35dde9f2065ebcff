package native

import (
	"context"
	"fmt"
	"reflect"
	"runtime"
	"sync/atomic"
	"unsafe"

	"github.com/membridge/membridge/tracker"
)

// DefaultArenaChunk is the size of the chunks an Arena takes from the C heap
// unless NewArena is told otherwise.
const DefaultArenaChunk = 256 << 10

// chunkAlign is the alignment of every chunk (a page), and so the largest
// alignment Alloc offers: aligning an offset aligns the address.
const chunkAlign = 4096

// An Arena hands out C memory by bumping a pointer through chunks it takes
// from the C heap, so an allocation costs no cgo call and no ledger record:
// the ledger sees the chunks (kind KindArenaChunk, the arena's tag) and
// Stats the bytes in use. Everything an arena handed out ends at once, with
// Reset (the chunks are kept for the next batch) or Free (they go back).
//
// The typical use is one arena per request or batch: allocate freely while
// serving it, Reset or Free when it is done.
//
// An Arena is not safe for concurrent use: give each goroutine its own.
//
// Memory from an arena is not checked on use: a pointer kept past Reset or
// Free points at memory the arena will hand out again (after Reset) or has
// given back to C (after Free). That is the price of an allocation with no
// bookkeeping. In the checked mode (MEMBRIDGE_CHECK=1, tracker.Checking())
// chunks are pages of their own, and Reset and Free never reuse them: they
// are made inaccessible and kept aside (the last 1024 chunks of all
// arenas), so a read
// or write through a stale pointer faults at that instruction, and
// membridge prints the arena's tag, the generation and where the chunk was
// taken before the Go runtime reports the fault. Check tells, without a
// fault, whether a generation noted when a value was made is still the
// arena's current one.
//
// Arena memory does not keep the arena alive: the garbage collector sees
// the *Arena, not the C memory its pointers and slices point into. An
// arena dropped while values from it are still in use is found by the
// safety net, which frees its chunks under them (Go's runtime.KeepAlive
// rule). Keep the *Arena reachable until the last use of its memory: Free
// or Reset it after that use (defer a.Free() does), or call
// runtime.KeepAlive(a). In the checked mode the reclaimed chunks are made
// inaccessible, so such a use faults with a membridge: message naming the
// arena and the chunk's allocation site.
//
// Use an Arena through the *Arena NewArena returned: a copy of the struct
// (cp := *a; go vet reports it) owns nothing, and Free, Reset and every
// allocation that needs a new chunk fail on it (Reset panics: it has no
// error to return), so a chunk is never given back twice. A nil or zero
// Arena has no memory: Alloc fails with ErrInvalidArgument, Reset and
// WaitFor do nothing, Free on nil does nothing.
type Arena struct {
	_ noCopy

	// The hot fields, first: the chunk being filled.
	base unsafe.Pointer // start of the current chunk
	off  int            // bytes used in it
	size int            // its size

	tag        string
	chunkSize  int
	chunks     []arenaChunk // chunks[cur] is the one being filled
	cur        int
	big        []arenaChunk // chunks for allocations larger than a chunk, dropped at Reset
	usedBefore int64        // bytes handed out from chunks before the current one
	gen        uint64
	freed      bool
	lastType   reflect.Type    // the last type NewIn or MakeSliceIn found pointer-free
	wait       context.Context // WaitFor: chunks wait for the budget until it ends
	self       *Arena          // the arena's own address: nil in a zero Arena, another in a copy
}

// noCopy makes go vet's copylocks check report copies of the struct that
// holds it.
type noCopy struct{}

func (*noCopy) Lock()   {}
func (*noCopy) Unlock() {}

// notHandle explains why a cannot do op when it is nil, a zero Arena or a
// copy of one, and returns nil otherwise.
func (a *Arena) notHandle(op string) error {
	switch {
	case a == nil:
		return fmt.Errorf("native: %s in a nil *Arena: %w", op, ErrInvalidArgument)
	case a.self == nil:
		return fmt.Errorf("native: %s in a zero Arena (make arenas with NewArena): %w", op, ErrInvalidArgument)
	case a.self != a:
		return fmt.Errorf("native: %s in a copy of arena %q: use the *Arena itself, copies own nothing: %w", op, a.tag, ErrInvalidArgument)
	}
	return nil
}

type arenaChunk struct {
	p      unsafe.Pointer
	n      int
	rec    *tracker.Record
	mapped bool // pages of its own (checked mode), not malloc's
}

// ArenaStats describes an arena's memory.
type ArenaStats struct {
	Chunks     int   // chunks held from the C heap
	ChunkBytes int64 // their total size
	UsedBytes  int64 // bytes handed out since the last Reset, padding included
	Generation uint64
}

// arenaInUse is the bytes handed out by all arenas, updated when a chunk
// fills and at Reset and Free (not per allocation).
var arenaInUse atomic.Int64

// ArenaBytesInUse returns the bytes all arenas have handed out, as of each
// arena's last chunk change, Reset or Free (the bump in the current chunk
// is not counted until then, so that allocation stays free of atomics).
func ArenaBytesInUse() int64 { return arenaInUse.Load() }

// NewArena returns an empty arena whose chunks are tagged tag. chunkSize is
// the size of each chunk it takes from C (0: DefaultArenaChunk); it takes
// none until the first allocation.
func NewArena(tag string, chunkSize int) *Arena {
	if chunkSize <= 0 {
		chunkSize = DefaultArenaChunk
	}
	chunkSize = (chunkSize + chunkAlign - 1) &^ (chunkAlign - 1)
	if chunkSize > 1<<40 {
		chunkSize = 1 << 40
	}
	a := &Arena{tag: tag, chunkSize: chunkSize}
	a.self = a
	return a
}

// Alloc returns n bytes aligned to align (a power of two, at most 4096) of
// uninitialised memory, valid until the next Reset or Free, as long as a
// stays reachable (see Arena: keep it until the last use). n == 0 returns
// a pointer to no bytes, which may be nil. It fails with ErrInvalidSize for a
// negative n, ErrInvalidArgument for a bad alignment, ErrFreed after Free,
// and ErrLimit or ErrOutOfMemory when a new chunk cannot be had.
func (a *Arena) Alloc(n, align int) (unsafe.Pointer, error) {
	// Chunks are page-aligned, so aligning the offset aligns the address.
	// Small enough to inline: a negative n fails the unsigned comparison
	// and a bad alignment the checks, and both go to allocSlow, as does a nil arena.
	if a == nil {
		return a.allocSlow(n, align)
	}
	mask := align - 1
	off := (a.off + mask) &^ mask
	if end := off + n; mask&align == 0 && uint(mask) < chunkAlign && n >= 0 && uint(end) <= uint(a.size) {
		a.off = end
		return unsafe.Add(a.base, off), nil
	}
	return a.allocSlow(n, align)
}

// TryAlloc is Alloc's fast path on its own, small enough for the compiler
// to inline into the caller: it returns n bytes aligned to align from the
// current chunk, or nil when they do not fit there (or the arguments are
// bad, or the arena has no chunk yet); then call Alloc, which takes the
// next chunk or reports the error. For the hottest loops:
//
//	p := a.TryAlloc(64, 8)
//	if p == nil {
//		if p, err = a.Alloc(64, 8); err != nil { ... }
//	}
func (a *Arena) TryAlloc(n, align int) unsafe.Pointer {
	if a == nil {
		return nil
	}
	mask := align - 1
	off := (a.off + mask) &^ mask
	if end := off + n; mask&align == 0 && uint(mask) < chunkAlign && n >= 0 && uint(end) <= uint(a.size) && a.base != nil {
		a.off = end
		return unsafe.Add(a.base, off)
	}
	return nil
}

func (a *Arena) badRequest(n, align int) error {
	if n < 0 {
		return fmt.Errorf("native: arena %q: alloc %d bytes: %w", a.tag, n, ErrInvalidSize)
	}
	return fmt.Errorf("native: arena %q: alloc %d bytes aligned to %d: alignment must be a power of two up to 4096: %w", a.tag, n, align, ErrInvalidArgument)
}

// allocSlow moves to the next chunk, taking one from C if none is left, or
// gives a large allocation a chunk of its own.
func (a *Arena) allocSlow(n, align int) (unsafe.Pointer, error) {
	if err := a.notHandle(fmt.Sprintf("alloc %d bytes", n)); err != nil {
		return nil, err
	}
	if align <= 0 || align > chunkAlign || align&(align-1) != 0 || n < 0 {
		return nil, a.badRequest(n, align)
	}
	if a.freed {
		return nil, fmt.Errorf("native: arena %q: alloc %d bytes: %w", a.tag, n, ErrFreed)
	}
	if n > a.chunkSize/4 {
		// Large: its own chunk, so the current one is not wasted.
		c, err := a.newChunk(max(n, 1))
		if err != nil {
			return nil, err
		}
		a.big = append(a.big, c)
		a.usedBefore += int64(n)
		arenaInUse.Add(int64(n))
		return c.p, nil
	}
	// Retire the current chunk and bump from the next.
	if a.base != nil {
		a.usedBefore += int64(a.off)
		arenaInUse.Add(int64(a.off))
		a.cur++
	}
	if a.cur == len(a.chunks) {
		c, err := a.newChunk(a.chunkSize)
		if err != nil {
			if a.base != nil {
				a.cur-- // keep bumping the old chunk; nothing else changed
				a.usedBefore -= int64(a.off)
				arenaInUse.Add(-int64(a.off))
			}
			return nil, err
		}
		a.chunks = append(a.chunks, c)
	}
	c := a.chunks[a.cur]
	a.base, a.off, a.size = c.p, 0, c.n
	return a.Alloc(n, align)
}

// arenaChunkReclaim gives back a chunk whose arena was dropped unfreed.
var arenaChunkReclaim = tracker.ReclaimFunc(func(r *tracker.Record) {
	unmarkOwnedRange(r.Addr())
	cFree(r.Addr(), r.Bytes(), tracker.Checking())
})

// newChunk takes a chunk of n bytes.
func (a *Arena) newChunk(n int) (arenaChunk, error) {
	mapped := tracker.Checking()
	reclaim := arenaChunkReclaim
	if mapped {
		reclaim = mappedChunkReclaim
	}
	var p unsafe.Pointer
	rec, err := tracker.Allocate(a, tracker.Request{Kind: KindArenaChunk, Device: -1, Tag: a.tag, Bytes: int64(n), Context: a.wait}, func() (uintptr, error) {
		if mapped {
			p = cProtectMap(n)
		} else {
			p = cAlloc(n, chunkAlign, fillNone)
		}
		if p == nil {
			return 0, ErrOutOfMemory // the ledger relieves and calls again once
		}
		markOwnedRange(uintptr(p), n) // Adopt refuses pointers into the chunk
		return uintptr(p), nil
	}, reclaim)
	if err != nil {
		return arenaChunk{}, fmt.Errorf("native: arena %q: new chunk of %d bytes: %w", a.tag, n, err)
	}
	return arenaChunk{p: p, n: n, rec: rec, mapped: mapped}, nil
}

// mappedChunkReclaim quarantines a debug-mode chunk whose arena was
// dropped, so that a value kept from it faults with the arena's name.
var mappedChunkReclaim = tracker.ReclaimFunc(func(r *tracker.Record) {
	unmarkOwnedRange(r.Addr())
	quarantineMem(r.Addr(), int(r.Bytes()), droppedDesc("*Arena", "chunk", r), unmapPages)
})

// Reset ends every allocation made since the last Reset and keeps the
// chunks for the next batch (in the checked mode it gives them back instead,
// see Arena). Chunks taken for large allocations go back to C. Reset after
// Free, and of a nil or zero Arena, does nothing; Reset of a copy panics.
func (a *Arena) Reset() {
	if a == nil || a.self == nil || a.freed {
		return
	}
	if a.self != a {
		panic(a.notHandle("reset"))
	}
	a.gen++
	arenaInUse.Add(-a.usedBefore)
	a.usedBefore = 0
	a.releaseChunks(a.big)
	a.big = a.big[:0]
	if tracker.Checking() {
		a.releaseChunks(a.chunks)
		a.chunks = a.chunks[:0]
		a.base, a.off, a.size, a.cur = nil, 0, 0, 0
		return
	}
	a.cur = 0
	if len(a.chunks) > 0 {
		a.base, a.off, a.size = a.chunks[0].p, 0, a.chunks[0].n
	}
	runtime.KeepAlive(a)
}

// Free gives every chunk back to C. The arena cannot be used again: Alloc
// returns ErrFreed. Free is idempotent: a second call returns ErrFreed.
// Free on a nil *Arena does nothing and returns nil; on a zero Arena or a
// copy it returns an error wrapping ErrInvalidArgument.
func (a *Arena) Free() error {
	if a == nil {
		return nil
	}
	if err := a.notHandle("free"); err != nil {
		return err
	}
	if a.freed {
		return fmt.Errorf("native: arena %q: free: %w", a.tag, ErrFreed)
	}
	a.Reset()
	a.gen++
	a.releaseChunks(a.chunks)
	a.chunks = nil
	a.big = nil
	a.base, a.off, a.size, a.cur = nil, 0, 0, 0
	a.freed = true
	runtime.KeepAlive(a)
	return nil
}

func (a *Arena) releaseChunks(cs []arenaChunk) {
	for _, c := range cs {
		if !c.rec.Release() {
			continue
		}
		unmarkOwnedRange(uintptr(c.p))
		if !c.mapped {
			cFree(uintptr(c.p), int64(c.n), tracker.Checking())
			continue
		}
		// Checked mode: no access from now on, and a fault names the arena.
		quarantineMem(uintptr(c.p), c.n, fmt.Sprintf(
			"use of arena memory after Reset or Free: arena %q, %d-byte chunk of generation %d%s",
			a.tag, c.n, a.gen-1, sites(c.rec)), unmapPages)
	}
}

// Stats returns the arena's chunks and the bytes it has handed out; zero
// for a nil Arena.
func (a *Arena) Stats() ArenaStats {
	if a == nil {
		return ArenaStats{}
	}
	s := ArenaStats{Chunks: len(a.chunks) + len(a.big), UsedBytes: a.usedBefore + int64(a.off), Generation: a.gen}
	for _, c := range a.chunks {
		s.ChunkBytes += int64(c.n)
	}
	for _, c := range a.big {
		s.ChunkBytes += int64(c.n)
	}
	return s
}

// WaitFor makes the chunks the arena takes from now on wait, when a limit
// refuses them, until memory is released or ctx ends (as native.WaitFor
// does for a buffer): with an arena per request, pass the request's
// context, and an allocation over the budget fails only when the request
// would have timed out anyway, with an error wrapping ErrLimit and ctx's
// error. nil goes back to failing at once. On a nil Arena it does nothing.
func (a *Arena) WaitFor(ctx context.Context) {
	if a != nil {
		a.wait = ctx
	}
}

// Tag returns the arena's tag; "" for a nil Arena.
func (a *Arena) Tag() string {
	if a == nil {
		return ""
	}
	return a.tag
}

// Generation counts the arena's Resets and its Free. Code that keeps an
// arena-made value beyond one batch can remember the generation it was
// made in and compare with Check. 0 for a nil Arena.
func (a *Arena) Generation() uint64 {
	if a == nil {
		return 0
	}
	return a.gen
}

// Check returns nil if gen is the arena's current generation, and otherwise
// an error wrapping ErrFreed saying how many times the arena was reset or
// freed since.
func (a *Arena) Check(gen uint64) error {
	if err := a.notHandle("check"); err != nil {
		return err
	}
	if gen == a.gen && !a.freed {
		return nil
	}
	return fmt.Errorf("native: arena %q: value from generation %d used in generation %d (reset or freed since): %w", a.tag, gen, a.gen, ErrFreed)
}

// NewIn returns a zeroed T in arena memory, valid until the arena's next
// Reset or Free. T must hold no Go pointers (ErrPointerType otherwise).
// The value does not keep a alive: keep the arena reachable until the
// value's last use (see Arena).
func NewIn[T any](a *Arena) (*T, error) {
	if err := a.notHandle("new value"); err != nil {
		return nil, err
	}
	var zero T
	size, align := int(unsafe.Sizeof(zero)), int(unsafe.Alignof(zero))
	if err := a.checkType(reflect.TypeFor[T]()); err != nil {
		return nil, err
	}
	p, err := a.Alloc(size, align)
	if err != nil {
		return nil, err
	}
	t := (*T)(p)
	*t = zero
	return t, nil
}

// MakeSliceIn returns a zeroed []T of length and capacity n in arena
// memory, valid until the arena's next Reset or Free. T must hold no Go
// pointers. Appending past its capacity moves it to the Go heap, as append
// does with any slice. The slice does not keep a alive: keep the arena
// reachable until the slice's last use (see Arena).
func MakeSliceIn[T any](a *Arena, n int) ([]T, error) {
	if err := a.notHandle(fmt.Sprintf("slice of %d elements", n)); err != nil {
		return nil, err
	}
	var zero T
	size, align := int(unsafe.Sizeof(zero)), int(unsafe.Alignof(zero))
	if err := a.checkType(reflect.TypeFor[T]()); err != nil {
		return nil, err
	}
	if n < 0 || (size > 0 && n > (1<<62)/size) {
		return nil, fmt.Errorf("native: arena %q: slice of %d elements of %d bytes: %w", a.tag, n, size, ErrInvalidSize)
	}
	p, err := a.Alloc(n*size, align)
	if err != nil {
		return nil, err
	}
	s := unsafe.Slice((*T)(p), n)
	clear(s)
	return s, nil
}

func (a *Arena) checkType(t reflect.Type) error {
	if t == a.lastType {
		return nil
	}
	if err := checkPointerFree(t); err != nil {
		return fmt.Errorf("native: arena %q: %w", a.tag, err)
	}
	a.lastType = t
	return nil
}
