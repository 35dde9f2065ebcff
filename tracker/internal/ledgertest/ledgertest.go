// Package ledgertest holds what the tests of the ledger and of its
// observers and readers share: an owner that plays the part packages
// native and cuda play, with Go memory standing in for native memory, the
// kind it allocates, and records with no memory behind them for the tests
// of what reads the ledger (debughttp, memprofile, promcollector,
// sitereport, timeline), which need live bytes, peaks, tags and sites, not
// allocations. It is for tests only.
package ledgertest

import (
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

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

// Commit enters a record of n bytes of kind on device under tag, at a
// made-up address. Its stack, when the ledger keeps one, starts at Commit
// itself, the first frame outside membridge's library packages: Commit is
// the site reports name, on every platform. The caller releases the
// record.
func Commit(t testing.TB, kind tracker.Kind, device int, tag string, n int64) *tracker.Record {
	t.Helper()
	r, err := tracker.AllocateUnwatched(tracker.Request{Kind: kind, Device: device, Tag: tag, Bytes: n, Addr: 0x1000}, nil, nil)
	require.NoError(t, err)
	return r
}

// Records stands in for an owner: it keeps the records Alloc makes until
// FreeAll releases them.
type Records struct{ recs []*tracker.Record }

// Alloc enters a record as Commit does (its site is Alloc) and keeps it.
func (o *Records) Alloc(t testing.TB, kind tracker.Kind, device int, tag string, n int64) *tracker.Record {
	t.Helper()
	r, err := tracker.AllocateUnwatched(tracker.Request{Kind: kind, Device: device, Tag: tag, Bytes: n, Addr: 0x1000}, nil, nil)
	require.NoError(t, err)
	o.recs = append(o.recs, r)
	return r
}

// Free releases the record Alloc made last.
func (o *Records) Free() {
	o.recs[len(o.recs)-1].Release()
	o.recs = o.recs[:len(o.recs)-1]
}

// FreeAll releases every record kept.
func (o *Records) FreeAll() {
	for _, r := range o.recs {
		r.Release()
	}
	o.recs = nil
}
