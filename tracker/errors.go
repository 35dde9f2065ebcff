package tracker

import "errors"

// Sentinel errors shared by every membridge owner. Packages native and cuda
// re-export them, so errors.Is works with either name. Errors returned by
// membridge wrap these with the operation and the sizes involved.
var (
	// ErrFreed: the handle was already freed.
	ErrFreed = errors.New("membridge: already freed")
	// ErrMoved: ownership moved to another handle, or was handed to C.
	ErrMoved = errors.New("membridge: ownership moved")
	// ErrLimit: the allocation would exceed a limit set with SetLimit or SetTagLimit.
	ErrLimit = errors.New("membridge: over the memory limit")
	// ErrOutOfMemory: the allocator (C heap, device) could not provide the memory.
	ErrOutOfMemory = errors.New("membridge: out of memory")
	// ErrInvalidSize: a negative size, or one that overflows.
	ErrInvalidSize = errors.New("membridge: invalid size")
)
