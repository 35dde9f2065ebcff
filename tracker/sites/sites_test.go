package sites_test

import (
	"testing"

	"github.com/membridge/membridge/internal/testkit"
	"github.com/membridge/membridge/tracker/internal/ledgertest"
	"github.com/membridge/membridge/tracker/leaktest"
	"github.com/membridge/membridge/tracker/sites"
)

func TestMain(m *testing.M) { leaktest.VerifyTestMain(m) }

func TestSiteTotalsCountAllocationsPerStack(t *testing.T) {
	defer leaktest.VerifyNone(t)
	sites.Track(true)
	defer sites.Track(false)
	var o ledgertest.Owner
	tag := testkit.UniqueTag(t)
	for range 3 {
		h, _ := o.Alloc(tag, 10) // one site: one line
		h.Free()
	}
	var found []sites.Total
	for _, s := range sites.Totals() {
		if s.Tag == tag {
			found = append(found, s)
		}
	}
	if len(found) != 1 || found[0].Bytes != 30 || found[0].Count != 3 {
		t.Fatalf("site totals %+v, want one site with 30 bytes in 3 allocations", found)
	}
}
