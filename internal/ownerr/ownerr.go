// Package ownerr holds the sentinel errors every owner of native memory
// shares (packages native, cuda, handle), so that errors.Is works with any
// package's name for them: native.ErrFreed is cuda.ErrFreed. The ledger
// itself never returns them: they are about handles, not about accounts.
package ownerr

import "errors"

var (
	// ErrFreed: the handle was already freed.
	ErrFreed = errors.New("membridge: already freed")
	// ErrMoved: ownership moved to another handle, or was handed to C.
	ErrMoved = errors.New("membridge: ownership moved")
)
