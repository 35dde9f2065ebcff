package tracker_test

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/membridge/membridge/tracker"
	"github.com/membridge/membridge/tracker/leaktest"
)

func TestMain(m *testing.M) { leaktest.VerifyTestMain(m) }

var tagSeq atomic.Int64

// testTag returns a tag unique to one run of a test, so counters read by
// tag start from zero under -count too.
func testTag(t testing.TB) string { return fmt.Sprintf("%s#%d", t.Name(), tagSeq.Add(1)) }

// The kinds these tests allocate: the ledger knows no kind of its own, so
// the tests register theirs, under the names native and cuda give theirs.
var (
	kindCHeap          = mustKind("c-heap")
	kindDevice         = mustKind("device")
	kindDeviceEmulated = mustKind("device-emulated")
)

func mustKind(name string) tracker.Kind {
	k, err := tracker.RegisterKind(name)
	if err != nil {
		panic(err)
	}
	return k
}
