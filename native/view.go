package native

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/membridge/membridge/internal/errprefix"
)

// ErrBorrowed means the buffer has views or retained references out, so it
// cannot be freed, moved or handed to C (Free), or the borrow asked for
// conflicts with one already out (an exclusive view excludes every other).
var ErrBorrowed = errors.New("buffer is borrowed")

// ErrFrozen means write access was asked of a frozen buffer.
var ErrFrozen = errors.New("buffer is frozen")

// The layout of Buffer.shares. Free, Move and HandToC look at the whole
// word with one atomic load; only when it is not zero (frozen aside) do
// they take the slow path.
const (
	sharesViews     uint64 = 1<<24 - 1 // shared views out
	sharesExclusive uint64 = 1 << 24   // an exclusive view is out
	sharesRefUnit   uint64 = 1 << 32   // one retained reference
	sharesRefs      uint64 = (1<<24 - 1) << 32
	sharesRevoked   uint64 = 1 << 61 // RevokeBorrows: views report their buffer freed
	sharesFrozen    uint64 = 1 << 62
	sharesBorrows          = sharesViews | sharesExclusive | sharesRefs
)

// Retain adds a reference to b, for shared ownership: each holder calls
// Release once, and the last Release frees the memory (what C++'s
// shared_ptr does). The owner that allocated b holds the first reference.
// While references other than the owner's are out, Free gets ErrBorrowed:
// holders end their share with Release, not Free.
func (b *Buffer) Retain() error {
	if err := b.check("retain"); err != nil {
		return err
	}
	for {
		s := b.shares.Load()
		if s&sharesRefs == sharesRefs {
			return fmt.Errorf("native: retain buffer (tag %q): too many references: %w", b.Tag(), ErrInvalidArgument)
		}
		if b.shares.CompareAndSwap(s, s+sharesRefUnit) {
			return b.confirm("retain", sharesRefUnit)
		}
	}
}

// confirm ends the taking of a borrow or reference, already counted in
// shares with delta: if a Free, Move or HandToC raced with it and won, the
// count is taken back and the error returned. Counting first and looking at
// the state second, while those look at the state first and the count
// second, means one of the two always sees the other.
//
// A Free that lost (it saw this count) puts the state back to live at
// once, so before giving up the borrow waits a moment, still counted, for
// that to happen.
func (b *Buffer) confirm(op string, delta uint64) error {
	for range 100 {
		if b.state.Load() == handleLive {
			return nil
		}
		runtime.Gosched()
	}
	b.shares.Add(-delta)
	if err := b.check(op); err != nil {
		return err
	}
	return fmt.Errorf("native: %s buffer (tag %q): raced with its Free: %w", op, b.Tag(), ErrBorrowed)
}

// Release drops one shared reference: one taken with Retain, or, when
// none is left, the owner's own, which ends the buffer like Free (views
// still out then get ErrBorrowed, as with Free). Holders of a shared
// buffer (Retain's, Cache.Get's) end their share with Release; the owner of
// a buffer it never shared ends it with Free. Release on a nil *Buffer
// does nothing, like Free.
//
// References are counted, not named: membridge cannot tell which holder
// releases, so a holder that releases twice ends another's share (or the
// owner's, freeing the memory). Each Retain gets exactly one Release.
func (b *Buffer) Release() error {
	if !b.handle() {
		return b.Free()
	}
	for {
		s := b.shares.Load()
		if s&sharesRefs == 0 {
			return b.Free()
		}
		if b.shares.CompareAndSwap(s, s-sharesRefUnit) {
			return nil
		}
	}
}

// Refs returns the number of holders: 1 for the owner plus one per Retain
// not yet released; 0 for a nil or zero Buffer or a copy of one.
func (b *Buffer) Refs() int {
	if !b.handle() {
		return 0
	}
	return 1 + int(b.shares.Load()&sharesRefs/sharesRefUnit)
}

// A FreeOption changes what Free does with the views and retained
// references still out on the buffer (its borrows): by default Free
// refuses, with ErrBorrowed, so that it never frees memory a view still
// reads. WaitForBorrows waits for them, RevokeBorrows revokes them; given
// both, Free waits until the context ends and then revokes.
type FreeOption interface {
	// applyFree returns o changed by the option (a value, as AllocOption's).
	applyFree(o freeOptions) freeOptions
}

type freeOptions struct {
	wait   context.Context // WaitForBorrows
	revoke bool            // RevokeBorrows
}

type waitForBorrows struct{ ctx context.Context }

func (w waitForBorrows) applyFree(o freeOptions) freeOptions {
	o.wait = w.ctx
	return o
}

type revokeBorrows struct{}

func (revokeBorrows) applyFree(o freeOptions) freeOptions {
	o.revoke = true
	return o
}

// WaitForBorrows makes Free wait until every view and retained reference
// is released, then free. When ctx ends first Free returns an error
// wrapping ErrBorrowed and ctx's error (or, with RevokeBorrows too,
// revokes what is still out and frees).
func WaitForBorrows(ctx context.Context) FreeOption { return waitForBorrows{ctx} }

// RevokeBorrows makes Free free the buffer even though views are out:
// they are revoked, and each later use of one reports that its owner was
// freed, with the allocation and free sites. Retained references are
// revoked alike.
func RevokeBorrows() FreeOption { return revokeBorrows{} }

// freeWith is Free with options.
func (b *Buffer) freeWith(opts []FreeOption) error {
	var o freeOptions
	for _, op := range opts {
		if op != nil {
			o = op.applyFree(o)
		}
	}
	if b == nil {
		return nil
	}
	if o.wait != nil && b.handle() {
		if err := b.waitBorrows(o.wait); err != nil && !o.revoke {
			return err
		}
	}
	if !o.revoke {
		return b.Free()
	}
	if err := b.check("free"); err != nil {
		return err
	}
	b.shares.Or(sharesRevoked)
	return b.free()
}

// waitBorrows waits until b has no borrows out, or is no longer live, or
// ctx ends.
func (b *Buffer) waitBorrows(ctx context.Context) error {
	delay := 50 * time.Microsecond
	for b.shares.Load()&sharesBorrows != 0 && b.state.Load() == handleLive {
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%w; gave up waiting: %w", b.borrowedError("free"), context.Cause(ctx))
		case <-t.C:
		}
		delay = min(2*delay, 10*time.Millisecond)
	}
	return nil
}

func (b *Buffer) borrowedError(op string) error {
	s := b.shares.Load()
	return fmt.Errorf("native: %s buffer (%d bytes, tag %q%s): %d shared views, %d exclusive, %d retained references out: %w",
		op, b.n, b.Tag(), b.sites(), s&sharesViews, (s&sharesExclusive)>>24, (s&sharesRefs)/sharesRefUnit, ErrBorrowed)
}

// A View is a borrowed window on part of a Buffer: it cannot outlive the
// buffer, because the buffer refuses Free (ErrBorrowed) while views are out
// (or waits for them, WaitForBorrows, or revokes them, RevokeBorrows), and a view
// whose owner was freed anyway reports it on every use. Several shared
// views may be out at once; an exclusive one (ViewMut) excludes every other
// view, checked when the view is made. End a view with Release.
//
// The bytes of a shared view must not be written; in the checked mode the
// pages of a frozen buffer are write-protected, so a write faults. A View
// belongs to one goroutine at a time (like a bytes.Buffer): hand it on
// rather than share it; the buffer itself may be viewed from any number of
// goroutines.
//
// Use a View through the *View that View or ViewMut returned. A copy of
// the struct (cp := *v; go vet reports it) is not a view: every method on
// it fails with ErrInvalidArgument (Bytes and Ptr panic), so a borrow is
// released exactly once, through its own handle.
type View struct {
	b         *Buffer
	off, n    int
	exclusive bool
	released  atomic.Bool // one Release wins, even when two race
	self      *View       // the view's own address: see Buffer.self
}

// newView makes the handle of a borrow already counted in b.shares.
func newView(b *Buffer, off, n int, exclusive bool) *View {
	v := &View{b: b, off: off, n: n, exclusive: exclusive}
	v.self = v
	return v
}

// notHandle explains why v (nil, zero or a copy) is not a view, or
// returns nil.
func (v *View) notHandle(op string) error {
	switch {
	case v == nil:
		return fmt.Errorf("native: %s of a nil *View: %w", op, ErrInvalidArgument)
	case v.self == nil:
		return fmt.Errorf("native: %s of a zero View (make views with Buffer.View or ViewMut): %w", op, ErrInvalidArgument)
	case v.self != v:
		return fmt.Errorf("native: %s of a copy of a View [%d:%d] of buffer (tag %q): use the *View itself, copies borrow nothing: %w", op, v.off, v.off+v.n, v.b.Tag(), ErrInvalidArgument)
	}
	return nil
}

// View borrows n bytes at off for reading. It fails with ErrBorrowed while
// an exclusive view is out, and with ErrInvalidArgument when the range is
// outside the buffer.
func (b *Buffer) View(off, n int) (*View, error) {
	if err := b.viewable("view", off, n); err != nil {
		return nil, err
	}
	for {
		s := b.shares.Load()
		if s&sharesExclusive != 0 || s&sharesViews == sharesViews {
			return nil, b.borrowedError("view of")
		}
		if b.shares.CompareAndSwap(s, s+1) {
			break
		}
	}
	if err := b.confirm("view of", 1); err != nil {
		return nil, err
	}
	return newView(b, off, n, false), nil
}

// ViewMut borrows n bytes at off for reading and writing, excluding every
// other view of the buffer until it is released. It fails with ErrBorrowed
// while any other view is out, and ErrFrozen on a frozen buffer.
func (b *Buffer) ViewMut(off, n int) (*View, error) {
	if err := b.viewable("exclusive view", off, n); err != nil {
		return nil, err
	}
	for {
		s := b.shares.Load()
		if s&sharesFrozen != 0 {
			return nil, fmt.Errorf("native: exclusive view of buffer (tag %q%s): %w", b.Tag(), b.sites(), ErrFrozen)
		}
		if s&(sharesExclusive|sharesViews) != 0 {
			return nil, b.borrowedError("exclusive view of")
		}
		if b.shares.CompareAndSwap(s, s|sharesExclusive) {
			break
		}
	}
	if err := b.confirm("exclusive view of", sharesExclusive); err != nil {
		return nil, err
	}
	return newView(b, off, n, true), nil
}

func (b *Buffer) viewable(op string, off, n int) error {
	if err := b.check(op); err != nil {
		return err
	}
	if off < 0 || n < 0 || off > b.n-n {
		return fmt.Errorf("native: %s [%d:%d] of a %d-byte buffer (tag %q): %w", op, off, off+n, b.n, b.Tag(), ErrInvalidArgument)
	}
	return nil
}

// Len returns the view's size in bytes; 0 for a nil or zero View.
func (v *View) Len() int {
	if v == nil {
		return 0
	}
	return v.n
}

// Exclusive reports whether the view came from ViewMut; false for a nil
// or zero View.
func (v *View) Exclusive() bool { return v != nil && v.exclusive }

// Err returns nil while the view can be used, and otherwise says why not:
// released (ErrFreed), or its buffer freed, moved or handed to C (the
// buffer's error, with its sites).
//
// While a view is out its buffer cannot be freed, moved or handed to C
// except by a Free with RevokeBorrows, so Err looks only at that: one
// atomic load.
func (v *View) Err() error {
	if err := v.notHandle("use"); err != nil {
		return err
	}
	if v.released.Load() {
		return fmt.Errorf("native: use of released view [%d:%d] of buffer (tag %q): %w", v.off, v.off+v.n, v.b.Tag(), ErrFreed)
	}
	if v.b.shares.Load()&sharesRevoked != 0 {
		err := v.b.check("use of view")
		if err == nil { // the revoking Free is still under way
			err = fmt.Errorf("native: use of view of a buffer being freed (tag %q): %w", v.b.Tag(), ErrFreed)
		}
		return errprefix.Within("native: ", fmt.Sprintf("view [%d:%d] outlived its buffer", v.off, v.off+v.n), err)
	}
	return nil
}

// Bytes returns the view's bytes, valid until Release. It panics with
// View.Err's message when the view was released or its buffer is gone, or
// v is a copy; a nil or zero View has no bytes: Bytes returns nil. Like
// Buffer.Bytes, the slice does not keep the buffer alive: keep the view
// reachable until its last use (Release after it).
func (v *View) Bytes() []byte {
	if v == nil || v.self == nil {
		return nil
	}
	if err := v.Err(); err != nil {
		panic(err)
	}
	return unsafe.Slice((*byte)(unsafe.Add(v.b.ptr, v.off)), v.n)
}

// Ptr returns the address of the view's first byte, for C. It panics like
// Bytes, and returns nil for a nil or zero View.
func (v *View) Ptr() unsafe.Pointer {
	if v == nil || v.self == nil {
		return nil
	}
	if err := v.Err(); err != nil {
		panic(err)
	}
	return unsafe.Add(v.b.ptr, v.off)
}

// Release ends the borrow. A second Release returns an error wrapping
// ErrFreed, and of two concurrent calls exactly one ends it. Releasing a
// view whose buffer was revoked is allowed. On a nil or zero View or a
// copy of one, Release changes nothing and returns an error wrapping
// ErrInvalidArgument.
func (v *View) Release() error {
	if err := v.notHandle("release"); err != nil {
		return err
	}
	if !v.released.CompareAndSwap(false, true) {
		return v.Err()
	}
	if v.exclusive {
		v.b.shares.And(^sharesExclusive)
	} else {
		v.b.shares.Add(^uint64(0)) // minus one shared view
	}
	return nil
}

// ReadAt copies bytes from off into p, for io.ReaderAt; it works on frozen
// buffers, which Bytes refuses.
func (b *Buffer) ReadAt(p []byte, off int64) (int, error) {
	if err := b.check("read"); err != nil {
		return 0, err
	}
	if off < 0 {
		return 0, fmt.Errorf("native: read at %d (tag %q): %w", off, b.Tag(), ErrInvalidArgument)
	}
	if off >= int64(b.n) {
		return 0, io.EOF
	}
	n := copy(p, unsafe.Slice((*byte)(unsafe.Add(b.ptr, off)), b.n-int(off)))
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}
