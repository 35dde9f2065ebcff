// Package childtest runs a test alone in a child process of its test
// binary, for tests that change process-wide state no other test may see
// (a saturated counter, all kinds registered, a lowered cap). It is for
// tests only.
package childtest

import (
	"os"
	"os/exec"
	"testing"

	"github.com/stretchr/testify/require"
)

const env = "MEMBRIDGE_TEST_CHILD"

// Alone reports whether t runs in its own child process. When it does not,
// it runs t there, requires it to pass, and returns false: the caller
// returns at once.
//
//	if !childtest.Alone(t) {
//		return
//	}
func Alone(t *testing.T) bool {
	t.Helper()
	if os.Getenv(env) == t.Name() {
		return true
	}
	cmd := exec.Command(os.Args[0], "-test.run=^"+t.Name()+"$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), env+"="+t.Name())
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.Contains(t, string(out), "--- PASS: "+t.Name())
	return false
}
