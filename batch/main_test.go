package batch_test

import (
	"flag"
	"os"
	"testing"

	"github.com/membridge/membridge/cext"
	"github.com/membridge/membridge/tracker"
)

// The tests run in the test mode with C allocations traced, so a C-side
// leak is reported with the Go stack that led to it. A run of benchmarks
// alone (-run '^$' -bench ...) measures production costs instead: the test
// mode's per-allocation stack and goroutine attribution would dominate.
func TestMain(m *testing.M) {
	flag.Parse()
	if f := flag.Lookup("test.run"); f != nil && f.Value.String() == "^$" {
		os.Exit(m.Run())
	}
	tracker.VerifyTestMain(cext.Tracing(m))
}
