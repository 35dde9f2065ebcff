package native

import (
	"context"
	"fmt"
	"math/bits"
	"runtime"
	"sync/atomic"
	"unsafe"

	"github.com/membridge/membridge/tracker"
	"github.com/membridge/membridge/tracker/stacks"
)

// The states of a handle. A record in the ledger can outlive a handle (a
// move gives it a new one), so the handle keeps its own state.
const (
	handleLive   uint32 = iota
	handleFreed         // Free was called
	handleMoved         // Move gave the memory to a new handle
	handleHanded        // HandToC gave the memory to C
)

// A Buffer owns n bytes of C memory. Create one with Alloc, AllocZeroed or
// Adopt; end it with Free. All methods are safe for concurrent use, but the
// memory itself is not synchronised: concurrent writers need their own
// locking, as with any Go slice.
type Buffer struct {
	ptr unsafe.Pointer
	n   int
	rec *tracker.Record

	// shares packs the borrows, retained references and the frozen bit
	// (view.go); Free reads it with one atomic load.
	shares atomic.Uint64
	ext    *bufferExt  // nil for plain C heap memory
	key    tracker.Key // kind and tag, which outlive rec (Free recycles it)
	state  atomic.Uint32
	large  bool // from the large-buffer path (large.go)
	paged  bool // on pages of its own, in the checked mode (quarantine.go)
	mag    bool // a small block from the magazines (magazine.go)
	traced bool // rec keeps a stack: the ledger never recycles it, so it stays readable

	// self is the handle's own address: a Buffer whose self is not its
	// address is a zero value or a copy (cp := *b), which owns nothing. A
	// copy would otherwise free the memory a second time once the record is
	// recycled for another allocation. One compare on each entry point. An
	// address, not a pointer, so that setting it costs no write barrier
	// (Go's heap does not move objects).
	self uintptr
}

// newBuffer makes the handle of rec; a nil rec: the handle of an
// allocation in progress, which owns sets once the ledger has the record.
func newBuffer(p unsafe.Pointer, n int, rec *tracker.Record, ext *bufferExt, large bool) *Buffer {
	b := &Buffer{ptr: p, n: n, ext: ext, large: large}
	b.self = uintptr(unsafe.Pointer(b))
	if rec != nil {
		b.owns(rec)
	}
	return b
}

// owns makes b the handle of rec.
func (b *Buffer) owns(rec *tracker.Record) {
	b.rec, b.key, b.traced = rec, rec.Key(), rec.Stack() != nil
}

// handle reports whether b is a handle this package made: not nil, not a
// zero Buffer, not a copy of one.
func (b *Buffer) handle() bool { return b != nil && b.self == uintptr(unsafe.Pointer(b)) }

// notHandle explains why b, for which handle is false, cannot do op.
func (b *Buffer) notHandle(op string) error {
	switch {
	case b == nil:
		return fmt.Errorf("native: %s of a nil *Buffer: %w", op, ErrInvalidArgument)
	case b.self == 0:
		return fmt.Errorf("native: %s of a zero Buffer (make buffers with Alloc, AllocZeroed or Adopt): %w", op, ErrInvalidArgument)
	}
	return fmt.Errorf("native: %s of a copy of a Buffer (%d bytes, tag %q): use the *Buffer itself, copies own nothing: %w", op, b.n, b.Tag(), ErrInvalidArgument)
}

// bufferExt holds what only some buffers need, so that a plain buffer's
// handle stays in the 64-byte size class (one is made per allocation, and
// the record it replaces is recycled).
// Move shares it between the old handle and the new.
type bufferExt struct {
	del    *deleter     // adopted memory's deleter (adopt.go)
	frozen *frozenPages // the checked mode's write-protected copy (freeze.go)
}

// deleter returns the adopted memory's deleter, or nil.
func (b *Buffer) deleter() *deleter {
	if b.ext == nil {
		return nil
	}
	return b.ext.del
}

// frozenPages returns the checked mode's write protection, or nil.
func (b *Buffer) frozenPages() *frozenPages {
	if b.ext == nil {
		return nil
	}
	return b.ext.frozen
}

// An AllocOption changes how Alloc, AllocZeroed and AllocContext allocate:
// Align and WaitFor. Options are functional, in the manner of goleak's:
// pass any number, a later one overrides an earlier one of its kind
// (alignments combine to the largest).
type AllocOption interface {
	// applyAlloc returns o changed by the option. It takes and returns a
	// value, not a pointer, so that applying options allocates nothing.
	applyAlloc(o allocOptions) allocOptions
}

// allocOptions is what the AllocOptions of one call asked for.
type allocOptions struct {
	align    int
	badAlign int             // an Align that is not a power of two, reported by alloc
	ctx      context.Context // WaitFor: wait for a limit until it ends
}

// alignOption is Align's option for a power of two: its base-2 logarithm
// plus one (0: Align(0), no alignment asked), a byte, so that converting it
// to an AllocOption never allocates.
type alignOption uint8

func (a alignOption) applyAlloc(o allocOptions) allocOptions {
	if a != 0 {
		o.align = max(o.align, 1<<(a-1))
	}
	return o
}

// badAlignOption is Align's option for anything else, refused by alloc.
type badAlignOption int

func (a badAlignOption) applyAlloc(o allocOptions) allocOptions {
	o.badAlign = int(a)
	return o
}

// Align asks for memory aligned to n bytes, a power of two. Without it,
// memory has malloc's alignment (16 bytes on 64-bit Linux).
func Align(n int) AllocOption {
	switch {
	case n == 0:
		return alignOption(0)
	case n < 0 || bits.OnesCount(uint(n)) > 1:
		return badAlignOption(n)
	}
	return alignOption(bits.TrailingZeros(uint(n)) + 1)
}

// parseAllocOptions applies opts.
func parseAllocOptions(opts []AllocOption) allocOptions {
	var o allocOptions
	for _, op := range opts {
		if op != nil {
			o = op.applyAlloc(o)
		}
	}
	return o
}

// Alloc returns a buffer of n bytes of uninitialised C memory under tag,
// which says what the memory is for (reports and limits go by it).
//
// n == 0 is allowed: the buffer has no C memory (Ptr is nil, Bytes is
// empty) but is a handle like any other, counted in the ledger until Free.
// A negative n gets ErrInvalidSize; a failed malloc gets ErrOutOfMemory and
// leaves nothing in the ledger; a tracker limit gets ErrLimit. In the debug
// mode (tracker.Checking()) fresh memory is filled with 0xCD, so code that
// reads it before writing shows up.
func Alloc(tag string, n int, opts ...AllocOption) (*Buffer, error) {
	f := fillNone
	if tracker.Checking() {
		f = fillJunk
	}
	return alloc(KindCHeap, tag, n, f, parseAllocOptions(opts))
}

// AllocZeroed is Alloc with the memory zeroed.
func AllocZeroed(tag string, n int, opts ...AllocOption) (*Buffer, error) {
	return alloc(KindCHeap, tag, n, fillZero, parseAllocOptions(opts))
}

// cHeap gives back C heap memory whose handle was dropped.
var cHeap = tracker.ReclaimFunc(func(r *tracker.Record) {
	unmarkOwned(r.Addr())
	cFree(r.Addr(), r.Bytes(), tracker.Checking())
})

// alloc is the one allocation path of the package.
func alloc(kind tracker.Kind, tag string, n int, f fill, o allocOptions) (*Buffer, error) {
	align, ctx := o.align, o.ctx
	if o.badAlign != 0 {
		return nil, fmt.Errorf("native: alloc %d bytes aligned to %d (tag %q): alignment must be a power of two: %w", n, o.badAlign, tag, ErrInvalidArgument)
	}
	if n < 0 {
		return nil, fmt.Errorf("native: alloc %d bytes (tag %q): %w", n, tag, ErrInvalidSize)
	}
	large := n >= largeMin && align <= largeAlign
	checking := tracker.Checking()
	paged := !large && n > 0 && align <= pageSize && checking
	mag := !large && !checking && n > 0 && n <= magMaxSize && align <= mallocAlign
	reclaim := cHeap
	switch {
	case large:
		reclaim = largeReclaim
	case paged:
		reclaim = pagedReclaim
	}
	b := newBuffer(nil, n, nil, nil, large)
	b.paged, b.mag = paged, mag
	rec, err := tracker.Allocate(b, tracker.Request{Kind: kind, Device: -1, Tag: tag, Bytes: int64(n), Context: ctx}, func() (uintptr, error) {
		if n == 0 {
			return 0, nil
		}
		p := allocMem(n, align, f, large, paged, mag)
		if p == nil {
			return 0, ErrOutOfMemory // the ledger relieves and calls again once
		}
		b.ptr = p
		markOwned(uintptr(p)) // for Adopt (owned.go)
		return uintptr(p), nil
	}, reclaim)
	if err != nil {
		return nil, fmt.Errorf("native: alloc %d bytes (tag %q): %w", n, tag, err)
	}
	b.owns(rec)
	return b, nil
}

// Len returns the size in bytes. It stays valid after Free; 0 for a nil
// or zero Buffer.
func (b *Buffer) Len() int {
	if b == nil {
		return 0
	}
	return b.n
}

// Tag returns the tag given at allocation; "" for a nil or zero Buffer.
func (b *Buffer) Tag() string {
	if b == nil || b.key == (tracker.Key{}) {
		return ""
	}
	return b.key.Tag()
}

// Snapshot returns what the ledger says of the buffer's allocation, as a
// value: it stays valid after Free. Once the buffer is freed, moved or
// handed to C, its record may be reused for another allocation (records
// that keep a stack excepted), so Snapshot then returns a zero Snapshot
// for a record without a stack; also for a nil or zero Buffer.
func (b *Buffer) Snapshot() tracker.Snapshot {
	if b.nothing() {
		return tracker.Snapshot{}
	}
	s := b.rec.Snapshot()
	if b.state.Load() != handleLive && !b.traced {
		return tracker.Snapshot{} // s may be of another allocation
	}
	return s
}

// Bytes returns the memory as a Go slice, valid until Free or Move. It
// panics, with a message naming where the buffer was allocated and freed,
// if the buffer was freed, moved or handed to C. A nil or zero Buffer owns
// no memory: Bytes returns nil.
//
// The slice does not keep the buffer alive: the garbage collector sees
// the *Buffer, not the C memory behind the slice. A buffer whose last
// reference is dropped while its slice is still in use is found by the
// safety net, which frees the memory under the slice (Go's
// runtime.KeepAlive rule, as for any memory with a cleanup). Keep the
// *Buffer reachable until the last use of the slice: call Free after it
// (defer b.Free() does that), or runtime.KeepAlive(b) after the last use.
func (b *Buffer) Bytes() []byte {
	if b.nothing() {
		return nil
	}
	b.mustBeLive("Bytes")
	if b.shares.Load()&sharesFrozen != 0 {
		panic(fmt.Errorf("native: Bytes of frozen buffer (%d bytes, tag %q%s): read it through View, ReadAt or Ptr: %w", b.n, b.Tag(), b.sites(), ErrFrozen))
	}
	return unsafe.Slice((*byte)(b.ptr), b.n)
}

// Ptr returns the address of the memory, for passing to C; nil for a
// zero-size, zero or nil buffer. It panics like Bytes on a buffer that is
// not live. Like Bytes, the pointer does not keep the buffer alive: keep
// the *Buffer reachable until C is done with the memory (see Bytes).
func (b *Buffer) Ptr() unsafe.Pointer {
	if b.nothing() {
		return nil
	}
	b.mustBeLive("Ptr")
	return b.ptr
}

// nothing reports whether b is nil or a zero Buffer, which own no memory.
func (b *Buffer) nothing() bool { return b == nil || b.self == 0 }

// Err returns nil while the buffer is live, and otherwise an error wrapping
// ErrFreed or ErrMoved that says where it was allocated and freed, or
// ErrInvalidArgument for a nil or zero Buffer or a copy of one.
func (b *Buffer) Err() error {
	return b.check("use")
}

// Free gives the memory back; it is the one way to end a Buffer (Close is
// Free for io.Closer; Release drops a shared reference, see Retain). While
// views or retained references are out, Free leaves the memory alone and
// returns an error wrapping ErrBorrowed, so it never frees memory a view
// still reads; the options say otherwise: WaitForBorrows(ctx) waits for
// them to be released, RevokeBorrows() revokes them and frees.
//
// Free is idempotent: on a buffer already freed it
// does nothing and returns an error wrapping ErrFreed (ErrMoved after Move
// or HandToC), and of two concurrent calls exactly one frees. Free on a nil
// *Buffer does nothing and returns nil; on a zero Buffer or a copy of one
// (cp := *b; go vet reports such copies) it frees nothing and returns an
// error wrapping ErrInvalidArgument.
//
// The ledger counts the memory freed at once. Out of the checked mode a small
// buffer's block reaches malloc in a batch a little later (at most 8 blocks
// or 64 KiB wait per processor; reliefs and each collection flush them),
// and the buffer's record is reused by a later allocation: Record is not
// valid after Free.
func (b *Buffer) Free(opts ...FreeOption) error {
	if len(opts) != 0 {
		return b.freeWith(opts)
	}
	if b == nil {
		return nil
	}
	if b.self != uintptr(unsafe.Pointer(b)) {
		return b.notHandle("free")
	}
	if b.shares.Load()&sharesBorrows != 0 {
		return b.borrowedError("free")
	}
	if !b.state.CompareAndSwap(handleLive, handleFreed) {
		return b.check("free")
	}
	// A borrow taken concurrently checks the state after counting itself
	// (view.go), so if it was granted its count shows here: give the
	// buffer back to it.
	if b.shares.Load()&sharesBorrows != 0 {
		b.state.Store(handleLive)
		return b.borrowedError("free")
	}
	return b.endFreed()
}

// free ends a live buffer whatever its borrows (RevokeBorrows).
func (b *Buffer) free() error {
	if !b.state.CompareAndSwap(handleLive, handleFreed) {
		return b.check("free")
	}
	return b.endFreed()
}

// endFreed releases the record and the memory of a buffer just marked freed.
func (b *Buffer) endFreed() error {
	// A record that keeps no stack is reused (Retire): nothing reads it
	// after this (see check).
	if b.rec.Retire() {
		b.release()
	}
	// Keep b reachable until Release has stopped the safety net, or the net
	// could fire (and free) while this Free runs.
	runtime.KeepAlive(b)
	return nil
}

// release gives the memory to its deleter, poisoning it first in the debug
// mode when it is ours.
func (b *Buffer) release() {
	if b.frozenPages() != nil {
		b.unfreeze()
	}
	if b.ptr != nil { // before the memory can be anyone else's
		unmarkOwned(uintptr(b.ptr))
	}
	switch {
	case b.ptr == nil:
	case b.large:
		largeFree(b.ptr, b.n, tracker.Checking())
	case b.paged:
		pagedFree(b.ptr, b.n)
	case b.deleter() != nil:
		b.ext.del.delete(b.ptr)
	case tracker.Checking():
		cFree(uintptr(b.ptr), int64(b.n), true)
	case b.mag:
		magFree(uintptr(b.ptr), b.n)
	default:
		cFree(uintptr(b.ptr), int64(b.n), false)
	}
}

// Close is Free, for io.Closer.
func (b *Buffer) Close() error { return b.Free() }

// Move hands the memory to a new handle and invalidates b, which then
// reports ErrMoved. The ledger record, tag and stack stay the same.
func (b *Buffer) Move() (*Buffer, error) {
	if !b.handle() {
		return nil, b.notHandle("move")
	}
	if b.shares.Load()&sharesBorrows != 0 {
		return nil, b.borrowedError("move")
	}
	if !b.state.CompareAndSwap(handleLive, handleMoved) {
		return nil, b.check("move")
	}
	if b.shares.Load()&sharesBorrows != 0 { // a borrow raced in, as in Free
		b.state.Store(handleLive)
		return nil, b.borrowedError("move")
	}
	nb := newBuffer(b.ptr, b.n, b.rec, b.ext, b.large)
	nb.paged, nb.mag = b.paged, b.mag
	nb.shares.Store(b.shares.Load() & sharesFrozen)
	tracker.Watch(nb, b.rec)
	runtime.KeepAlive(b)
	return nb, nil
}

// HandToC gives ownership to C code that will free the memory itself (with
// free, or the adopted deleter) and returns the pointer to give it. The
// ledger records the hand-off: no report blames the memory as a leak and
// nothing in membridge frees it again. b then reports ErrMoved.
//
// Memory from the large-buffer path, or on pages of its own or frozen in
// the checked mode, is not malloc's to free: HandToC copies it into malloc'd
// memory, gives that to C and frees the original. A buffer with views or retained references out
// gets ErrBorrowed.
func (b *Buffer) HandToC() (unsafe.Pointer, error) {
	if !b.handle() {
		return nil, b.notHandle("hand to C")
	}
	if b.shares.Load()&sharesBorrows != 0 {
		return nil, b.borrowedError("hand to C")
	}
	// The state changes first, so that no Free or second HandToC can free
	// the memory while it is copied below.
	if !b.state.CompareAndSwap(handleLive, handleHanded) {
		return nil, b.check("hand to C")
	}
	if b.shares.Load()&sharesBorrows != 0 { // a borrow raced in, as in Free
		b.state.Store(handleLive)
		return nil, b.borrowedError("hand to C")
	}
	p := b.ptr
	copied := p != nil && (b.large || b.paged || b.frozenPages() != nil)
	if copied {
		if p = cAlloc(b.n, 0, fillNone); p == nil {
			b.state.Store(handleLive)
			return nil, fmt.Errorf("native: hand %d bytes (tag %q) to C: a malloc'd copy: %w", b.n, b.Tag(), ErrOutOfMemory)
		}
		copy(unsafe.Slice((*byte)(p), b.n), unsafe.Slice((*byte)(b.ptr), b.n))
	}
	b.rec.HandOff()
	if copied {
		b.release()
	} else if p != nil {
		unmarkOwned(uintptr(p)) // C's now: it may be adopted again
	}
	runtime.KeepAlive(b)
	return p, nil
}

func (b *Buffer) mustBeLive(op string) {
	if b.self != uintptr(unsafe.Pointer(b)) || b.state.Load() != handleLive {
		panic(b.check(op))
	}
}

// check explains a handle's state as an error, or returns nil if it is live.
func (b *Buffer) check(op string) error {
	if !b.handle() {
		return b.notHandle(op)
	}
	var err error
	var what string
	switch b.state.Load() {
	case handleLive:
		return nil
	case handleFreed:
		what, err = "freed", ErrFreed
	case handleMoved:
		what, err = "moved", ErrMoved
	case handleHanded:
		what, err = "handed to C", ErrMoved
	}
	return fmt.Errorf("native: %s of %s buffer (%d bytes, tag %q%s): %w", op, what, b.n, b.Tag(), b.sites(), err)
}

// sites says where the buffer was allocated and freed, as far as the
// ledger knows. Only a record that keeps a stack is read: another may have
// been recycled by Free.
func (b *Buffer) sites() string {
	if !b.traced {
		return ", allocation site unknown: set MEMBRIDGE_TRACK=all"
	}
	return sites(b.rec)
}

// sites says where a record was allocated and freed, as far as the ledger
// knows.
func sites(r *tracker.Record) string {
	s := ""
	if site := stacks.Site(r.Stack()); site != "" {
		s += ", allocated at " + site
	} else {
		s += ", allocation site unknown: set MEMBRIDGE_TRACK=all"
	}
	if site := stacks.Site(r.FreeStack()); site != "" {
		s += ", freed at " + site
	}
	return s
}
