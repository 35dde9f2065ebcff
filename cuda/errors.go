package cuda

import (
	"errors"
	"fmt"

	"github.com/membridge/membridge/internal/errprefix"
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

// ErrPointerType means device memory was asked for, or copied to or from,
// with an element type that holds Go pointers, which may not be stored
// outside Go's heap. It is the same value as native.ErrPointerType.
var ErrPointerType = pointerfree.ErrPointerType

// Sentinel errors of this package.
var (
	// ErrNoDevice: no such device, or no device at all.
	ErrNoDevice = errors.New("no such device")
	// ErrClosed: the Context (or Stream, Event, Module) was closed.
	ErrClosed = errors.New("closed")
	// ErrWrongContext: memory or a stream of one Context used with another
	// (another device, or another Context of the same device).
	ErrWrongContext = errors.New("belongs to another context")
	// ErrSizeMismatch: a copy between ranges of different sizes, or a view
	// outside its buffer.
	ErrSizeMismatch = errors.New("sizes do not match")
	// ErrBadLaunch: a kernel launched with the wrong number or kinds of
	// arguments, or an impossible grid.
	ErrBadLaunch = errors.New("bad kernel launch")
	// ErrInvalidArgument: a nil handle, or a value out of range.
	ErrInvalidArgument = errors.New("invalid argument")
	// ErrNotSupported: the driver or device cannot do what was asked.
	ErrNotSupported = errors.New("not supported")
	// ErrBorrowed: Free on a view, which borrows its memory.
	ErrBorrowed = errors.New("a view borrows its memory")
)

// A DriverError is a failed driver call: its CUresult code and name.
// errors.Is matches ErrOutOfMemory, ErrNoDevice, ErrNotSupported and
// ErrInvalidArgument for the codes that mean them.
type DriverError struct {
	Call string // the driver function, e.g. "cuMemAlloc"
	Code int    // the CUresult
	Name string // e.g. "CUDA_ERROR_OUT_OF_MEMORY"
}

func (e *DriverError) Error() string {
	return fmt.Sprintf("%s: %s (%d)", e.Call, e.Name, e.Code)
}

// CUresult codes the package branches on (cuda.h).
const (
	codeInvalidValue = 1
	codeOutOfMemory  = 2
	codeNoDevice     = 100
	codeInvalidDev   = 101
	codeNotSupported = 801
)

// Unwrap maps the codes callers branch on to sentinel errors.
func (e *DriverError) Unwrap() error {
	switch e.Code {
	case codeOutOfMemory:
		return ErrOutOfMemory
	case codeNoDevice, codeInvalidDev:
		return ErrNoDevice
	case codeNotSupported:
		return ErrNotSupported
	case codeInvalidValue:
		return ErrInvalidArgument
	}
	return nil
}

// within passes on err, an error of another of this package's functions
// (so already "cuda: ..."), under more context, keeping one prefix.
func within(context string, err error) error { return errprefix.Within("cuda: ", context, err) }
