package cuda

import (
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// deps lists the packages the module's packages import, directly or not,
// with the given build tags.
func deps(t *testing.T, tags string) []string {
	t.Helper()
	gobin, err := exec.LookPath("go") // go test puts its own bin first on PATH
	require.NoError(t, err)
	args := []string{"list", "-e", "-deps"}
	if tags != "" {
		args = append(args, "-tags", tags)
	}
	cmd := exec.Command(gobin, append(args, "github.com/membridge/membridge/...")...)
	out, err := cmd.Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			t.Fatalf("go list: %v\n%s", err, ee.Stderr)
		}
		t.Fatalf("go list: %v", err)
	}
	return strings.Fields(string(out))
}

// TestDefaultBuildHasNoGorgonia: gorgonia.org/cu calls cuInit in its
// package init and exits the process without a working driver, so no
// package of the module may reach it without the cuda build tag. The same
// query with the tag must find it, or the check proves nothing.
func TestDefaultBuildHasNoGorgonia(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list over the module")
	}
	const cu = "gorgonia.org/cu"
	if d := deps(t, ""); slices.Contains(d, cu) {
		t.Errorf("the default build imports %s", cu)
	}
	if d := deps(t, "cuda"); !slices.Contains(d, cu) {
		t.Errorf("the cuda build does not import %s: the check above cannot fail", cu)
	}
}
