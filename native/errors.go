package native

import (
	"errors"

	"github.com/membridge/membridge/internal/ownerr"
	"github.com/membridge/membridge/internal/pointerfree"
	"github.com/membridge/membridge/tracker"
)

// The ledger's sentinel errors, under this package's name.
var (
	ErrFreed       = ownerr.ErrFreed
	ErrMoved       = ownerr.ErrMoved
	ErrLimit       = tracker.ErrLimit
	ErrOutOfMemory = tracker.ErrOutOfMemory
	ErrInvalidSize = tracker.ErrInvalidSize
)

// ErrPointerType means a typed slice was asked for with an element type that
// holds Go pointers, which cgo forbids storing in C memory.
var ErrPointerType = pointerfree.ErrPointerType

// ErrInvalidArgument means a nil pointer, a nil deleter, an alignment that is
// not a power of two, or a handle that is not one: a nil, zero or copied
// Buffer, View, Slice or Arena.
var ErrInvalidArgument = errors.New("invalid argument")

// ErrAlreadyOwned means Adopt was given memory that the ledger already counts
// as owned (a buffer, an adopted block, an arena chunk, device or pinned
// memory), so adopting it would free it twice.
var ErrAlreadyOwned = errors.New("memory already owned")
