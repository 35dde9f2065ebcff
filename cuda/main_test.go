package cuda

import (
	"flag"
	"fmt"
	"os"
	"testing"

	"github.com/membridge/membridge/tracker"
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

// TestMain runs the tests in the ledger's test mode. A run of benchmarks
// only (-run '^$' -bench ...) keeps the production settings instead, since
// the test mode captures a stack and the goroutine at every allocation and
// would be what the benchmarks measure; the ledger is still checked for
// leaks at the end.
func TestMain(m *testing.M) {
	flag.Parse()
	if f := flag.Lookup("test.run"); f != nil && f.Value.String() == "^$" && flag.Lookup("test.bench").Value.String() != "" {
		code := runner{m}.Run()
		if err := tracker.Find(); code == 0 && err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
		os.Exit(code)
	}
	tracker.VerifyTestMain(runner{m})
}
