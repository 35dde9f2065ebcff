package native

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/membridge/membridge/tracker/leaktest"
)

func TestMain(m *testing.M) { leaktest.VerifyTestMain(m) }

var tagSeq atomic.Int64

// testTag returns a tag unique to one run of a test, so counters read by
// tag start from zero under -count too.
func testTag(t testing.TB) string { return fmt.Sprintf("%s#%d", t.Name(), tagSeq.Add(1)) }
