package cext

import (
	"fmt"
	"sync"
	"unsafe"

	"github.com/membridge/membridge/native"
	"github.com/membridge/membridge/tracker"
)

// Adopt makes a Go handle the owner of block p, which C code allocated
// through membridge.h, and returns it as a native.Buffer (kind adopted,
// under the block's C tag). Free, or the safety net if the buffer is
// dropped, releases it by calling deleter, the extension's own release
// function of C type void (*)(void *) given as a pointer (for example
// unsafe.Pointer(C.batch_release)); it must end in membridge_free. A nil
// deleter means membridge_free. name names the deleter in messages.
//
// The block leaves the C counters (or its trace record) as it enters the
// ledger's adopted kind, so it is counted once. When C returns a view into
// a larger block, adopt the larger block and keep the view's offset: one
// Free then releases exactly the block that was allocated.
//
// A pointer that is not a live membridge block (a foreign pointer, a
// freed block, a pointer into the middle of a block) gets ErrForeign, a
// block a Go handle already owns gets ErrGoOwned; p stays as it was.
// Blocks are recognised by membridge's table of live blocks, so any
// pointer may be passed: nothing at or before it is read.
func Adopt(p unsafe.Pointer, name string, deleter unsafe.Pointer) (*native.Buffer, error) {
	FollowChecking()
	if p == nil {
		return nil, fmt.Errorf("cext: adopt nil: %w", ErrForeign)
	}
	n, tag, wasTraced, res := cToGo(p)
	if err := resultError("adopt", p, res); err != nil {
		return nil, err
	}
	if wasTraced {
		traceFree(uintptr(p))
	}
	goOwned.Store(p, struct{}{})
	buf, err := native.Adopt(tagName(tag), p, n, deleterFor(name, deleter))
	if err != nil {
		// Give the block back to C's books: it stays the caller's.
		goOwned.Delete(p)
		cToC(p, false)
		return nil, fmt.Errorf("cext: adopt %d bytes at %p: %w", n, p, err)
	}
	return buf, nil
}

// goOwned holds the blocks Go handles own (from Adopt and Alloc), so that
// HandToC can refuse any other buffer without reading memory before it.
var goOwned sync.Map // unsafe.Pointer -> struct{}

var deleters sync.Map // C function pointer -> native.Deleter

// deleterFor returns the Deleter that ends Go's ownership of a block and
// calls fn on it.
func deleterFor(name string, fn unsafe.Pointer) native.Deleter {
	if fn == nil {
		fn, name = cMembridgeFree, "membridge_free"
	}
	if d, ok := deleters.Load(fn); ok {
		return d.(native.Deleter)
	}
	d := native.DeleterFunc(name, func(p unsafe.Pointer) {
		goOwned.Delete(p)
		cReleaseWith(fn, p)
	})
	v, _ := deleters.LoadOrStore(fn, d)
	return v.(native.Deleter)
}

// Alloc returns n bytes (uninitialised) as a block of membridge.h owned by
// a Go handle, counted in the ledger (kind adopted) under tag. Use it for
// memory that C code will take over: HandToC gives it to C, which frees it
// with membridge_free; until then Free releases it like any buffer.
func Alloc(tag string, n int) (*native.Buffer, error) {
	if n < 0 {
		return nil, fmt.Errorf("cext: alloc %d bytes (tag %q): %w", n, tag, tracker.ErrInvalidSize)
	}
	p := cAllocForGo(cTagIndex(tag), n)
	if p == nil {
		return nil, fmt.Errorf("cext: alloc %d bytes (tag %q): %w", n, tag, tracker.ErrOutOfMemory)
	}
	goOwned.Store(p, struct{}{})
	buf, err := native.Adopt(tag, p, n, deleterFor("membridge_free", nil))
	if err != nil {
		goOwned.Delete(p)
		cReleaseWith(cMembridgeFree, p)
		return nil, fmt.Errorf("cext: alloc %d bytes (tag %q): %w", n, tag, err)
	}
	return buf, nil
}

// HandToC gives C the ownership of b, a buffer from Alloc or Adopt, and
// returns the pointer to give it. The ledger records the hand-off (b then
// reports ErrMoved) and the block enters the C side's books (or, while
// tracing, a c-extension record with this call's stack) until C frees it
// with membridge_free. A buffer that is not a membridge block gets
// ErrForeign and stays b's.
func HandToC(b *native.Buffer) (unsafe.Pointer, error) {
	if err := b.Err(); err != nil {
		return nil, fmt.Errorf("cext: hand to C: %w", err)
	}
	p := b.Ptr()
	if _, ok := goOwned.Load(p); !ok {
		return nil, resultError("hand to C", p, bridgeForeign)
	}
	if _, _, res := cCheck(p); res != bridgeGoOwned {
		return nil, resultError("hand to C", p, res)
	}
	if _, err := b.HandToC(); err != nil {
		return nil, fmt.Errorf("cext: hand to C: %w", err)
	}
	goOwned.Delete(p)
	on := FollowChecking()
	if on {
		traceAlloc(uintptr(p), int64(b.Len()), b.Tag())
	}
	cToC(p, on)
	return p, nil
}

// Free frees a block that C owns, from Go: for memory C allocated through
// membridge.h and left for its caller to free with membridge_free. It
// refuses, with an error and without touching the block, a pointer that is
// not a live membridge block (ErrForeign: a foreign, freed or interior
// pointer) or one a Go handle owns (ErrGoOwned: free that with its
// handle's Free).
func Free(p unsafe.Pointer) error {
	if p == nil {
		return nil
	}
	if _, _, res := cCheck(p); res != bridgeCOwned {
		return resultError("free", p, res)
	}
	cFree(p)
	return nil
}

func resultError(op string, p unsafe.Pointer, res int) error {
	switch res {
	case bridgeOK:
		return nil
	case bridgeGoOwned:
		return fmt.Errorf("cext: %s %p: %w", op, p, ErrGoOwned)
	case bridgeCOwned:
		return fmt.Errorf("cext: %s %p: %w", op, p, ErrCOwned)
	}
	return fmt.Errorf("cext: %s %p: %w", op, p, ErrForeign)
}

var tagIndexes sync.Map // tag name -> C tag index

// cTagIndex returns the C side's index for tag, registering it; tags
// beyond the C table's capacity count under the default C tag.
func cTagIndex(tag string) int {
	if v, ok := tagIndexes.Load(tag); ok {
		return v.(int)
	}
	i := cTag(tag)
	if i < 0 {
		i = 0
	}
	tagIndexes.Store(tag, i)
	return i
}
