package leaktest_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/membridge/membridge/internal/testkit"
	"github.com/membridge/membridge/tracker"
	"github.com/membridge/membridge/tracker/internal/ledgertest"
	"github.com/membridge/membridge/tracker/leaktest"
)

// Records of one site are one LeakSite, with their bytes and the test
// whose frame is on their stacks.
func TestGroupBySite(t *testing.T) {
	var o ledgertest.Owner
	tag := testkit.UniqueTag(t)
	var recs []tracker.Snapshot
	for range 3 {
		h, err := o.Alloc(tag, 10) // one line: one site
		require.NoError(t, err)
		defer h.Free()
		recs = append(recs, h.Rec.Snapshot())
	}
	big, err := o.Alloc(tag, 100)
	require.NoError(t, err)
	defer big.Free()
	sites := leaktest.GroupBySite(append(recs, big.Rec.Snapshot()))
	require.Len(t, sites, 2)
	want := sites[0]
	assert.Equal(t, int64(100), want.Bytes, "most bytes first")
	assert.Equal(t, 3, sites[1].Count)
	assert.Equal(t, int64(30), sites[1].Bytes)
	assert.Equal(t, []string{"TestGroupBySite"}, sites[1].Tests)
	assert.Equal(t, ledgertest.KindCHeap, sites[1].Kind)
}

// recorder is a TestingT of its own: VerifyNone needs nothing but Error.
type recorder struct{ errs []string }

func (r *recorder) Error(args ...any) {
	for _, a := range args {
		if err, ok := a.(error); ok {
			r.errs = append(r.errs, err.Error())
		}
	}
}

func TestVerifyNoneTakesAnyTestingT(t *testing.T) {
	var o ledgertest.Owner
	h, err := o.Alloc(testkit.UniqueTag(t), 16)
	require.NoError(t, err)
	var rec recorder
	var tt leaktest.TestingT = &rec
	leaktest.VerifyNone(tt, leaktest.MaxWait(0))
	h.Free()
	require.Len(t, rec.errs, 1, "a TestingT without Name cannot be told apart: every live record is its")
	assert.Contains(t, rec.errs[0], "membridge: LEAK of")
}

// EnableTestMode is what VerifyTestMain turns on, for harnesses of their
// own; in a test binary the mode is on already, and Find then checks the
// whole ledger.
func TestEnableTestModeThenFind(t *testing.T) {
	leaktest.EnableTestMode()
	assert.True(t, tracker.Checking())
	assert.Equal(t, int64(1), tracker.StackRate())
	var o ledgertest.Owner
	h, err := o.Alloc(testkit.UniqueTag(t), 8)
	require.NoError(t, err)
	err = leaktest.Find(leaktest.MaxWait(0))
	var le *leaktest.LeakError
	require.True(t, errors.As(err, &le))
	assert.ErrorIs(t, err, leaktest.ErrLeaked)
	h.Free()
	assert.NoError(t, leaktest.Find(leaktest.MaxWait(0)))
}
