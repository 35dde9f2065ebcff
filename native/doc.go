// Package native gives Go code explicit ownership of C heap memory.
//
// A [Buffer] owns n bytes of C memory until its Free; [Slice] is the typed
// form for pointer-free element types. Every buffer is a record in the
// membridge ledger (package tracker), with its tag, size and (depending on
// the stack rate) its allocation stack. A buffer dropped without Free is
// found by the ledger's safety net and reported, then handled by the
// ledger's leak policy.
//
// Ownership can move: [Buffer.Move] gives the memory a new handle,
// [Buffer.HandToC] gives it to C code that will free it, and [Adopt] takes
// ownership of memory a C library allocated, to be freed with that
// library's own deleter.
//
// # Keep the handle reachable while its memory is in use
//
// Memory returned by Bytes, Values, Ptr, View.Bytes, NewIn, MakeSliceIn and
// Arena.Alloc is valid until the buffer or arena is freed or moved, and
// only as long as its handle (the *Buffer, *Slice, *View or *Arena) is
// reachable. The garbage collector sees the handle, not the C memory
// behind a slice or pointer: once the last reference to the handle is
// gone, the safety net may reclaim the memory while a slice still points
// at it, and the slice then reads whatever is allocated there next. This
// is Go's runtime.KeepAlive rule, as for any memory that a cleanup frees:
//
//	b, _ := native.Alloc("frame", n)
//	defer b.Free()                 // keeps b reachable to the end, and frees it
//	fill(b.Bytes())
//
// or, when the handle has no Free at the end of the use,
// runtime.KeepAlive(b) after the last use of the memory. A handle passed
// on to C must likewise stay reachable until C is done with the pointer.
//
// In the checked mode (tracker.Checking: MEMBRIDGE_CHECK=1, what tests
// use) a break of the rule faults instead of reading other memory: every
// buffer gets pages of its own, and memory the safety net
// reclaims is made inaccessible and kept aside for a while (as arena
// chunks are after Reset and Free), so a read or write through a kept
// slice faults at that instruction, and membridge prints the tag and the
// allocation site before the Go runtime reports the fault. Memory freed
// with Free is overwritten with 0xDB in that mode, so a use after Free
// shows up as garbage, not as plausible data (buffers of more than a page
// are unmapped, so a use faults).
//
// # Handles
//
// Use each handle through the pointer its constructor returned. A nil
// handle's Free and Close do nothing; a zero value (var b native.Buffer)
// owns nothing, nor does a copy of a Buffer, View or Arena struct
// (cp := *b, which go vet reports): their methods fail with
// ErrInvalidArgument (or return zero values), so a copy can never free,
// release or borrow twice. Copies of a Slice share its one Buffer.
//
// Free ends every handle this package makes (Buffer, Slice, Arena). Close
// is Free, for io.Closer. Release is only for shared references: it ends a
// View (a borrow of a Buffer) or drops a reference taken with
// Buffer.Retain. What Free does with views still out is chosen by its
// options (FreeOption): refuse (the default), wait (WaitForBorrows) or
// revoke (RevokeBorrows).
//
// # Names: zeroed or uninitialised
//
// One rule names the allocations here and in package cuda: a name that
// starts with Alloc hands out uninitialised memory (filled with 0xCD in the
// checking mode, so a read before a write shows up), and the same name ending
// in Zeroed hands out zeroed memory: Alloc and AllocZeroed, AllocSlice and
// AllocSliceZeroed. NewIn and MakeSliceIn, the arena's forms of Go's new
// and make, zero as those builtins do; Arena.Alloc, an Alloc, does not.
//
// # Options
//
// Functions that take options take them as functional options, in the
// manner of goleak's, here and in packages cuda and cache: an interface
// type (AllocOption, FreeOption) with constructors (Align, WaitFor,
// WaitForBorrows, RevokeBorrows), any number per call.
package native
