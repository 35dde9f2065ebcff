package cuda

import (
	"errors"
	"fmt"

	"github.com/membridge/membridge/internal/ownerr"
	"github.com/membridge/membridge/tracker"
)

// The ledger's sentinel errors, under this package's name.
var (
	ErrFreed       = ownerr.Freed
	ErrMoved       = ownerr.Moved
	ErrLimit       = tracker.ErrLimit
	ErrOutOfMemory = tracker.ErrOutOfMemory
	ErrInvalidSize = tracker.ErrInvalidSize
)

// Sentinel errors of this package.
var (
	// ErrNoDevice: no such device, or no device at all.
	ErrNoDevice = errors.New("cuda: no such device")
	// ErrClosed: the Context (or Stream, Event, Module) was closed.
	ErrClosed = errors.New("cuda: closed")
	// ErrWrongContext: memory or a stream of one Context used with another
	// (another device, or another Context of the same device).
	ErrWrongContext = errors.New("cuda: belongs to another context")
	// ErrSizeMismatch: a copy between ranges of different sizes, or a view
	// outside its buffer.
	ErrSizeMismatch = errors.New("cuda: sizes do not match")
	// ErrBadLaunch: a kernel launched with the wrong number or kinds of
	// arguments, or an impossible grid.
	ErrBadLaunch = errors.New("cuda: bad kernel launch")
	// ErrInvalidArgument: a nil handle, or a value out of range.
	ErrInvalidArgument = errors.New("cuda: invalid argument")
	// ErrNotSupported: the driver or device cannot do what was asked.
	ErrNotSupported = errors.New("cuda: not supported")
	// ErrBorrowed: Free on a view, which borrows its memory.
	ErrBorrowed = errors.New("cuda: a view borrows its memory")
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
