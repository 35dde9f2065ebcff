// Package cext is the Go side of cext/membridge.h, the C API for C
// extensions: it brings what C code allocated through membridge into the
// ledger, and moves blocks between C and Go owners with the books kept
// straight.
//
// C code allocates with membridge_malloc and friends (or hands a
// membridge_allocator to a library that takes custom allocators). Those
// blocks are counted in C, per tag, without locks; [Sync] brings the counts
// into the ledger as kind c-extension ([KindCExtension]), so
// [tracker.TagStats] and [tracker.AllStats] show them next to Go's own.
//
// While the ledger keeps every stack ([tracker.Checking], as in tests), C
// allocations are traced: each calls back into Go and becomes a ledger
// record carrying the Go stack of the cgo call that led to it, so the test
// mode reports a C-side leak with its tag and the Go code responsible.
// Wrappers call [FollowChecking] before calling into C to keep the C side in
// step with the ledger's mode.
//
// Ownership moves both ways. [Adopt] gives a Go handle (a
// [native.Buffer], kind adopted) the ownership of a block C allocated, to
// be freed by Free or the safety net through the extension's own deleter;
// [Alloc] makes a block in Go that [HandToC] gives to C code, which frees
// it with membridge_free. At each move the block leaves one set of books
// and enters the other, so no byte is counted twice or lost.
package cext
