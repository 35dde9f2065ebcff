// Package batch is the Go API of the sample C extension batch.c:
// it filters batches of records (an id and a float32 value each), keeping
// those whose value lies in [lo, hi], in C.
//
// The extension returns what it keeps in the two shapes C libraries use:
// a fresh block ([Filter]) and a view into a larger working block that must
// be released as a whole ([Process], the processBatch() shape). Both come
// back as a [Result] that owns exactly the block the extension allocated,
// adopted with the extension's own deleter: one Free (or, if the Result is
// dropped, the ledger's safety net) releases it. The internal package
// leaky keeps the wrong wrapper, which never releases the working block,
// as a test fixture.
package batch

// #cgo CFLAGS: -Wall -Wextra -O2 -I${SRCDIR}/../cext
// #include "batch.h"
import "C"

import (
	"fmt"
	"unsafe"

	"github.com/membridge/membridge/cext"
	"github.com/membridge/membridge/native"
)

// A Record is one record of a batch. Its layout is C's batch_record.
type Record struct {
	ID    uint64
	Value float32
	Flags uint32 // Kept is set on records a filter kept
}

// Kept is the flag the extension sets on the records it keeps.
const Kept = C.BATCH_KEPT

// The tags the extension's memory is counted under.
const (
	TagKept = C.BATCH_TAG_KEPT // fresh blocks of kept records (Filter)
	TagWork = C.BATCH_TAG_WORK // working blocks (Process)
)

// Record must stay layout-compatible with batch_record.
var _ [unsafe.Sizeof(Record{}) - unsafe.Sizeof(C.batch_record{})]byte
var _ [unsafe.Sizeof(C.batch_record{}) - unsafe.Sizeof(Record{})]byte

// A Result holds the records a filter kept, in C memory that it owns until
// Free. Records is a view of that memory.
type Result struct {
	buf  *native.Buffer
	view unsafe.Pointer // first kept record, inside buf
	n    int
}

// Len returns the number of kept records.
func (r *Result) Len() int { return r.n }

// Records returns the kept records, in input order. The slice aliases C
// memory: it is valid until Free, and the Result must stay reachable while
// it is used (runtime.KeepAlive), or the safety net may release it. It
// panics after Free, naming where the memory was allocated and freed.
func (r *Result) Records() []Record {
	if err := r.buf.Err(); err != nil {
		panic(fmt.Errorf("batch: records of a released result: %w", err))
	}
	return unsafe.Slice((*Record)(r.view), r.n)
}

// Bytes returns the size of the block the Result holds: the kept records
// for Filter, the whole working block for Process.
func (r *Result) Bytes() int { return r.buf.Len() }

// Free releases the block through the extension's deleter. It is
// idempotent: a second call returns an error wrapping native.ErrFreed.
func (r *Result) Free() error {
	if r == nil {
		return nil
	}
	if err := r.buf.Free(); err != nil {
		return fmt.Errorf("batch: free result of %d records: %w", r.n, err)
	}
	return nil
}

// Close is Free, for io.Closer.
func (r *Result) Close() error { return r.Free() }

// Filter returns the records of in whose value lies in [lo, hi] (NaN
// never does), copied by the extension into a fresh block
// (batch_filter_copy).
func Filter(in []Record, lo, hi float32) (*Result, error) {
	cext.FollowChecking()
	var kept C.size_t
	p := C.batch_filter_copy(first(in), C.size_t(len(in)), C.float(lo), C.float(hi), &kept)
	if p == nil {
		return nil, fmt.Errorf("batch: filter %d records: %w", len(in), native.ErrOutOfMemory)
	}
	buf, err := cext.Adopt(unsafe.Pointer(p), "batch_release", unsafe.Pointer(C.batch_release))
	if err != nil {
		C.batch_release(unsafe.Pointer(p))
		return nil, fmt.Errorf("batch: filter %d records: %w", len(in), err)
	}
	return &Result{buf: buf, view: unsafe.Pointer(p), n: int(kept)}, nil
}

// Process runs in through batch_process, the processBatch() shape: the
// extension copies the batch into a working block, partitions it and
// returns a view of the kept records inside that block. The Result owns
// the whole working block, so Free releases what was allocated, not the
// view.
func Process(in []Record, lo, hi float32) (*Result, error) {
	cext.FollowChecking()
	var kept C.size_t
	var work unsafe.Pointer
	view := C.batch_process(first(in), C.size_t(len(in)), C.float(lo), C.float(hi), &kept, &work)
	if view == nil {
		return nil, fmt.Errorf("batch: process %d records: %w", len(in), native.ErrOutOfMemory)
	}
	buf, err := cext.Adopt(work, "batch_release", unsafe.Pointer(C.batch_release))
	if err != nil {
		C.batch_release(work)
		return nil, fmt.Errorf("batch: process %d records: %w", len(in), err)
	}
	return &Result{buf: buf, view: unsafe.Pointer(view), n: int(kept)}, nil
}

// first returns the address of in[0] for C, or nil for an empty batch. The
// records hold no Go pointers, so cgo lets C read them during the call.
func first(in []Record) *C.batch_record {
	if len(in) == 0 {
		return nil
	}
	return (*C.batch_record)(unsafe.Pointer(&in[0]))
}
