package handle_test

import (
	"testing"

	"github.com/membridge/membridge/cext"
	"github.com/membridge/membridge/tracker/leaktest"
)

// The tests run in the test mode with C allocations traced, so a C-side
// leak is reported with the Go stack that led to it.
func TestMain(m *testing.M) { leaktest.VerifyTestMain(cext.Tracing(m)) }
