package cuda

import (
	"fmt"
	"os"
	"testing"

	"github.com/membridge/membridge/tracker/leaktest"
)

// afterTests run after all tests, before the ledger's final check; a test
// file of a backend (for example the stand-in driver's live-object check)
// appends to it in an init function. An error fails the run.
var afterTests []func() error

// shared is the context tests use unless they test opening and closing.
var shared *Context

type runner struct{ m *testing.M }

func (r runner) Run() int {
	var err error
	if shared, err = Open(0); err != nil {
		fmt.Fprintln(os.Stderr, "cuda tests: open device 0:", err)
		return 1
	}
	code := r.m.Run()
	if err := shared.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "cuda tests: close device 0:", err)
		code = 1
	}
	for _, f := range afterTests {
		if err := f(); err != nil {
			fmt.Fprintln(os.Stderr, "cuda tests:", err)
			code = 1
		}
	}
	return code
}

// TestMain runs the tests in the ledger's test mode (benchmark-only runs
// keep the production settings: see leaktest.VerifyTestMain).
func TestMain(m *testing.M) { leaktest.VerifyTestMain(runner{m}) }
