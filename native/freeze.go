package native

import (
	"fmt"
	"unsafe"

	"github.com/membridge/membridge/tracker"
)

// Freeze makes b immutable: from then on Bytes panics with ErrFrozen and
// ViewMut fails with it, while View, ReadAt and Ptr (for C code that only
// reads) keep working. Freezing cannot be undone; Free ends a frozen buffer
// as any other. Freeze is idempotent. It fails with ErrBorrowed while an
// exclusive view is out.
//
// In the checked mode (MEMBRIDGE_CHECK=1) the pages are also
// write-protected, so a write from Go or from C faults at the writing
// instruction, and membridge prints the buffer's tag and allocation site
// before the Go runtime reports the fault. A buffer that does not own whole
// pages (one allocated outside the checked mode under 256 KiB) is first copied to pages of
// its own, and its old memory poisoned (0xDB) and kept until Free: take
// Ptr, Bytes or views after Freeze, not before. Freeze must not run concurrently with other
// uses of b.
func (b *Buffer) Freeze() error {
	if err := b.check("freeze"); err != nil {
		return err
	}
	for {
		s := b.shares.Load()
		if s&sharesFrozen != 0 {
			return nil
		}
		if s&sharesExclusive != 0 {
			return b.borrowedError("freeze")
		}
		if b.shares.CompareAndSwap(s, s|sharesFrozen) {
			break
		}
	}
	if tracker.Checking() && b.n > 0 {
		if err := b.protect(); err != nil {
			return err
		}
	}
	return nil
}

// Frozen reports whether Freeze was called; false for a nil or zero
// Buffer.
func (b *Buffer) Frozen() bool { return b != nil && b.shares.Load()&sharesFrozen != 0 }

// frozenPages is a frozen buffer's write-protected memory in the debug
// mode.
type frozenPages struct {
	p    unsafe.Pointer
	n    int
	orig unsafe.Pointer // the original memory when p is a copy, else nil
	slot int            // in the fault handler's table, or -1
}

func (b *Buffer) protect() error {
	ps := cPageSize()
	fp := &frozenPages{p: b.ptr, n: b.n, slot: -1}
	if !(b.large || b.paged) || uintptr(b.ptr)%uintptr(ps) != 0 {
		q := cProtectMap(b.n)
		if q == nil {
			return fmt.Errorf("native: freeze %d bytes (tag %q): pages for write protection: %w", b.n, b.Tag(), ErrOutOfMemory)
		}
		old := unsafe.Slice((*byte)(b.ptr), b.n)
		copy(unsafe.Slice((*byte)(q), b.n), old)
		for i := range old {
			old[i] = 0xDB // the freed-memory poison of mb_alloc.h
		}
		// The original stays allocated until Free: the ledger's record
		// (and the safety net's reclaimer) still name its address.
		fp.orig, fp.p = b.ptr, q
		b.ptr = q
		markOwned(uintptr(q)) // the original stays marked too, until release
	}
	b.ext = &bufferExt{del: b.deleter(), frozen: fp} // from here on release undoes what was done
	if err := cProtect(uintptr(fp.p), fp.n, protRO); err != nil {
		return fmt.Errorf("native: freeze %d bytes (tag %q): mprotect: %w", b.n, b.Tag(), err)
	}
	fp.slot = cProtectRegister(uintptr(fp.p), fp.n, fmt.Sprintf("write to a frozen buffer: %d bytes, tag %q%s", b.n, b.Tag(), b.sites()))
	return nil
}

// unfreeze lifts the protection before the memory is freed; release calls
// it. For a copied buffer it unmaps the copy and points ptr back at the
// original, which release then frees.
func (b *Buffer) unfreeze() {
	fp := b.ext.frozen
	b.ext.frozen = nil
	cProtectUnregister(fp.slot)
	if fp.orig != nil {
		unmarkOwned(uintptr(fp.p))
		cProtectUnmap(uintptr(fp.p), fp.n)
		b.ptr = fp.orig // release, next, unmarks it
		return
	}
	_ = cProtect(uintptr(fp.p), fp.n, protRW)
}
