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
// Memory returned by Bytes or Values is valid until the buffer is freed or
// moved. membridge cannot see a Go slice outlive its buffer; in the debug
// mode (tracker stack rate 1, what tests use) freed memory is overwritten
// with 0xDB first, so such a bug shows up as garbage, not as plausible data;
// buffers of 256 KiB and more are unmapped instead, so a use faults at once.
package native
