package native

import (
	"errors"

	"github.com/membridge/membridge/tracker"
)

// The ledger's sentinel errors, under this package's name.
var (
	ErrFreed       = tracker.ErrFreed
	ErrMoved       = tracker.ErrMoved
	ErrLimit       = tracker.ErrLimit
	ErrOutOfMemory = tracker.ErrOutOfMemory
	ErrInvalidSize = tracker.ErrInvalidSize
)

// ErrPointerType: a typed slice was asked for with an element type that
// holds Go pointers, which cgo forbids storing in C memory.
var ErrPointerType = errors.New("native: element type contains Go pointers")

// ErrInvalidArgument: a nil pointer, a nil deleter, or an alignment that is
// not a power of two.
var ErrInvalidArgument = errors.New("native: invalid argument")
