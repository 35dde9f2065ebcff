//go:build cuda

package cuda

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/membridge/membridge/internal/childtest"
	"github.com/stretchr/testify/require"
)

// standinAloneEnv marks a child run of one test by
// TestStandinEachTestAlone.
const standinAloneEnv = "MEMBRIDGE_FAKECUDA_ALONE"

// TestStandinEachTestAlone runs every other test and example of the
// package alone in a child process. Each child ends like any run: the shared
// context is closed, then the stand-in's counters must show nothing alive
// (fakecuda.HoldsNothing) and the ledger nothing left. So the stand-in's
// counters are checked after each test, and a leak is blamed on the test
// that made it, whatever the test itself checks.
func TestStandinEachTestAlone(t *testing.T) {
	standin(t)
	if os.Getenv(standinAloneEnv) != "" || childtest.InAnyChild() {
		t.Skip("already in a child run")
	}
	list, err := exec.Command(os.Args[0], "-test.list", ".").Output()
	require.NoError(t, err, "listing the tests")
	ran := 0
	for _, name := range strings.Fields(string(list)) {
		if name == t.Name() || !(strings.HasPrefix(name, "Test") || strings.HasPrefix(name, "Example")) {
			continue
		}
		cmd := exec.Command(os.Args[0], "-test.run=^"+name+"$", "-test.count=1")
		cmd.Env = append(os.Environ(), standinAloneEnv+"="+name, childtest.QuickExit())
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("%s run alone: %v\n%s", name, err, out)
		}
		ran++
	}
	if ran == 0 {
		t.Error("found no tests to run")
	}
}
