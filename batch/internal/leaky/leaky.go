// Package leaky is the wrong Go wrapper of batch_process, kept as a test
// fixture: it copies the kept records into Go memory and never releases
// the extension's working block, as a team that expected the garbage
// collector to free C memory would write it. Package batch's tests check
// that the test mode reports the leak with its tag and stack; if they ever
// stop seeing it, the check has silently stopped working.
package leaky

// #cgo CFLAGS: -Wall -Wextra -I${SRCDIR}/../..
// #include "batch.h"
import "C"

import (
	"unsafe"

	"github.com/membridge/membridge/batch"
)

// Process returns the records of in whose value lies in [lo, hi], and
// leaks the working block every time.
func Process(in []batch.Record, lo, hi float32) []batch.Record {
	if len(in) == 0 {
		return nil
	}
	var kept C.size_t
	var work unsafe.Pointer
	view := C.batch_process((*C.batch_record)(unsafe.Pointer(&in[0])), C.size_t(len(in)), C.float(lo), C.float(hi), &kept, &work)
	if view == nil {
		return nil
	}
	// The bug: the view is copied out, and work is never given to
	// batch_release.
	return append([]batch.Record(nil), unsafe.Slice((*batch.Record)(unsafe.Pointer(view)), int(kept))...)
}
