package tracker

import "errors"

// Sentinel errors of the ledger, shared by every membridge owner. Packages
// native and cuda re-export them, so errors.Is works with any name. Errors returned by
// membridge wrap these with the operation and the sizes involved.
var (
	// ErrLimit: the allocation would exceed a limit set with SetLimit or SetTagLimit.
	ErrLimit = errors.New("membridge: over the memory limit")
	// ErrOutOfMemory: the allocator (C heap, device) could not provide the memory.
	ErrOutOfMemory = errors.New("membridge: out of memory")
	// ErrInvalidSize: a negative size, or one that overflows.
	ErrInvalidSize = errors.New("membridge: invalid size")
)
