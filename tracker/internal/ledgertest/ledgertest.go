// Package ledgertest makes ledger records with no memory behind them, for
// the tests of what reads the ledger (debughttp, memprofile, promcollector,
// sitereport, timeline): they need live bytes, peaks, tags and sites, not
// allocations. It is for tests only.
package ledgertest

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/membridge/membridge/tracker"
)

// Commit reserves and commits a record of n bytes of kind on device under
// tag, at a made-up address. Its stack, when the ledger keeps one, starts
// at Commit itself, the first frame outside membridge's library packages:
// Commit is the site reports name, on every platform. The caller releases
// the record.
func Commit(t testing.TB, kind tracker.Kind, device int, tag string, n int64) *tracker.Record {
	t.Helper()
	r, err := tracker.Reserve(kind, device, tag, n, 0)
	require.NoError(t, err)
	r.Commit(0x1000, nil)
	return r
}

// Records stands in for an owner: it keeps the records Alloc makes until
// FreeAll releases them.
type Records struct{ recs []*tracker.Record }

// Alloc commits a record as Commit does (its site is Alloc) and keeps it.
func (o *Records) Alloc(t testing.TB, kind tracker.Kind, device int, tag string, n int64) *tracker.Record {
	t.Helper()
	r, err := tracker.Reserve(kind, device, tag, n, 0)
	require.NoError(t, err)
	r.Commit(0x1000, nil)
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
