package tracker_test

import (
	"testing"

	"github.com/membridge/membridge/tracker/internal/ledgertest"
	"github.com/membridge/membridge/tracker/leaktest"
)

func TestMain(m *testing.M) { leaktest.VerifyTestMain(m) }

// The kinds these tests allocate: the ledger knows no kind of its own, so
// the tests register theirs, under the names native and cuda give theirs.
var (
	kindCHeap  = ledgertest.KindCHeap
	kindDevice = ledgertest.MustKind("device")
)
