// Package childtest runs a test alone in a child process of its test
// binary, for tests that change process-wide state no other test may see
// (a saturated counter, all kinds registered, a lowered cap) or that need
// a different environment (a stand-in driver with more devices, a failure
// injected from the start). It is for tests only.
package childtest

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const env = "MEMBRIDGE_TEST_CHILD"

// InChild reports whether t runs in the child process that Run or Alone
// started for it.
func InChild(t testing.TB) bool { return os.Getenv(env) == t.Name() }

// InAnyChild reports whether this process is a child run of some test, for
// tests that must not start children of their own there.
func InAnyChild() bool { return os.Getenv(env) != "" }

// Run runs t alone in a child process of the test binary, with extra added
// to the child's environment (NAME=value each), and returns the child's
// combined output and its exit error. It does not judge the result: a test
// that must pass in the child uses Alone; one that expects its child to
// fail checks the output itself. In the child, the test runs its body
// where InChild(t) holds.
func Run(t testing.TB, extra ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^"+t.Name()+"$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), append(extra, env+"="+t.Name(), QuickExit())...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// QuickExit returns a GORACE setting for a child's environment that keeps
// the user's and drops the race detector's one-second sleep at exit, which
// would otherwise dominate a child run under -race.
func QuickExit() string {
	return "GORACE=" + strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0")
}

// Alone reports whether t runs in its own child process. When it does not,
// it runs t there (with extra added to the child's environment, as Run
// does), requires it to pass, and returns false: the caller returns at
// once.
//
//	if !childtest.Alone(t) {
//		return
//	}
func Alone(t testing.TB, extra ...string) bool {
	t.Helper()
	if InChild(t) {
		return true
	}
	out, err := Run(t, extra...)
	require.NoError(t, err, "child run with %v:\n%s", extra, out)
	require.Contains(t, out, "--- PASS: "+t.Name(), "child run with %v", extra)
	return false
}
