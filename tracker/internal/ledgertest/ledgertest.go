// Package ledgertest holds what the tests of the ledger and of its
// observers share: an owner that plays the part packages native and cuda
// play, with Go memory standing in for native memory, and the kind it
// allocates.
package ledgertest

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/membridge/membridge/tracker"
)

// KindCHeap is the kind Owner allocates; it has the name package native
// gives its C heap memory, so reports read the same.
var KindCHeap = MustKind("c-heap")

// MustKind registers a kind for tests (or finds it), and panics when the
// ledger has no room for it.
func MustKind(name string) tracker.Kind {
	k, err := tracker.RegisterKind(name)
	if err != nil {
		panic(err)
	}
	return k
}

// Owner reserves, commits, watches and releases records for handles of
// its own.
type Owner struct {
	Reclaimed atomic.Int64 // bytes the safety net gave back
}

// Handle is an Owner's handle: the safety net watches it.
type Handle struct {
	Rec *tracker.Record
	mem []byte
}

// Alloc makes an n-byte allocation tagged tag.
func (o *Owner) Alloc(tag string, n int) (*Handle, error) {
	h := &Handle{mem: make([]byte, n)}
	rec, err := tracker.Allocate(h, tracker.Request{Kind: KindCHeap, Device: -1, Tag: tag, Bytes: int64(n), Addr: 0x1000}, nil,
		tracker.ReclaimFunc(func(r *tracker.Record) { o.Reclaimed.Add(r.Bytes()) }))
	if err != nil {
		return nil, err
	}
	h.Rec = rec
	return h, nil
}

// Free releases the handle's record; it reports whether this call did.
func (h *Handle) Free() bool { return h.Rec.Release() }

var tagSeq atomic.Int64

// Tag returns a tag unique to one run of a test, so counters read by tag
// start from zero under -count too.
func Tag(t testing.TB) string { return fmt.Sprintf("%s#%d", t.Name(), tagSeq.Add(1)) }
