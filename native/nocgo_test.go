package native

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The name every package built with cgo declares in its nocgo.go.
const needsCgo = "membridge_needs_cgo__set_CGO_ENABLED_1_and_install_a_C_compiler_such_as_gcc"

// A build without cgo must say so in every package that fails, not stop on
// "undefined: fill" or "build constraints exclude all Go files".
func TestBuildWithoutCgoNamesCgoAndACCompiler(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the whole module without cgo")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on PATH")
	}
	root, err := filepath.Abs("..")
	require.NoError(t, err)
	cmd := exec.Command(goBin, "build", "./...")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := cmd.CombinedOutput()
	require.Error(t, err, "the module built without cgo:\n%s", out)

	// go build prints "# import/path" before each package's errors.
	sections := map[string]string{}
	var pkg string
	for _, line := range strings.Split(string(out), "\n") {
		if p, ok := strings.CutPrefix(line, "# "); ok {
			pkg = p
			continue
		}
		require.NotContains(t, line, "build constraints exclude all Go files", "a package without a nocgo.go")
		if pkg != "" {
			sections[pkg] += line + "\n"
		}
	}
	require.Contains(t, sections, "github.com/membridge/membridge/native", "output:\n%s", out)
	for p, errs := range sections {
		require.Contains(t, errs, needsCgo, "package %s fails without cgo but does not say why", p)
	}
}
