package ownership_test

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func environ() []string { return os.Environ() }

// plantedModule is a fresh module that requires membridge (through a
// replace directive to this tree) with one bug of each kind, at the lines
// given in plantedLines.
const plantedModule = `package planted

import "github.com/membridge/membridge/native"

func leak() error {
	b, err := native.Alloc("leak", 64)
	if err != nil {
		return err
	}
	_ = b.Len()
	return nil
}

func useAfterFree() {
	b, _ := native.Alloc("uaf", 64)
	b.Free()
	b.Bytes()[0] = 1
}

func keptSlice() []byte {
	b, _ := native.Alloc("kept", 64) //membridge:ignore leak the kept slice is what this shows
	return b.Bytes()
}

func doubleFree() {
	b, _ := native.Alloc("double", 64)
	b.Free()
	b.Free()
}

func goPointer() {
	s, _ := native.AllocSliceZeroed[*int]("gopointer", 1)
	defer s.Free()
}
`

var plantedLines = map[string]int{
	"leak":         6,
	"useafterfree": 17,
	"keptslice":    22,
	"doublefree":   28,
	"gopointer":    32,
}

// TestCommandFindsPlantedBugs builds cmd/membridgevet, runs it over a fresh
// module with one planted bug of each kind, as a user would (alone with
// -json, and as go vet's -vettool), and checks each is reported at its line.
func TestCommandFindsPlantedBugs(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the command and a module with cgo")
	}
	root, err := filepath.Abs("../..")
	require.NoError(t, err)
	dir := t.TempDir()
	bin := filepath.Join(dir, "membridgevet")
	if runtime.GOOS == "windows" {
		bin += ".exe"
	}
	build := exec.Command("go", "build", "-o", bin, "./cmd/membridgevet")
	build.Dir = root
	out, err := build.CombinedOutput()
	require.NoError(t, err, "%s", out)

	mod := filepath.Join(dir, "planted")
	require.NoError(t, os.MkdirAll(mod, 0o755))
	gomod := "module example.com/planted\n\ngo 1.24\n\nrequire github.com/membridge/membridge v0.0.0\n\nreplace github.com/membridge/membridge => " + root + "\n"
	require.NoError(t, os.WriteFile(filepath.Join(mod, "go.mod"), []byte(gomod), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(mod, "planted.go"), []byte(plantedModule), 0o644))
	// go.sum: the module's requirements are this tree's.
	sum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(mod, "go.sum"), sum, 0o644))
	tidy := exec.Command("go", "mod", "tidy")
	tidy.Dir = mod
	tidy.Env = append(environ(), "GOFLAGS=-mod=mod", "GOPROXY=off")
	if out, err := tidy.CombinedOutput(); err != nil {
		t.Logf("go mod tidy (offline): %v\n%s", err, out)
	}

	t.Run("json", func(t *testing.T) {
		cmd := exec.Command(bin, "-json", "./...")
		cmd.Dir = mod
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		_ = cmd.Run() // -json exits 0 with findings
		// {"pkg": {"analyzer": [{"posn": "file:line:col", "message": ...}]}}
		var res map[string]map[string]json.RawMessage
		require.NoError(t, json.Unmarshal(stdout.Bytes(), &res), "stdout %s\nstderr %s", stdout.String(), stderr.String())
		got := map[string][]int{}
		for _, byCheck := range res {
			for check, raw := range byCheck {
				var diags []struct {
					Posn    string `json:"posn"`
					Message string `json:"message"`
				}
				if json.Unmarshal(raw, &diags) != nil {
					continue // an error object, not diagnostics
				}
				for _, d := range diags {
					got[check] = append(got[check], lineOf(d.Posn))
				}
			}
		}
		for check, line := range plantedLines {
			assert.Equal(t, []int{line}, got[check], "%s: want one finding at line %d", check, line)
		}
	})

	t.Run("vettool", func(t *testing.T) {
		cmd := exec.Command("go", "vet", "-vettool="+bin, "./...")
		cmd.Dir = mod
		out, err := cmd.CombinedOutput()
		require.Error(t, err, "go vet must fail with findings:\n%s", out)
		for check, line := range plantedLines {
			assert.Contains(t, string(out), "planted.go:"+itoa(line)+":", "%s", check)
			assert.Contains(t, string(out), check+": ", "%s", check)
		}
	})

	t.Run("exit status", func(t *testing.T) {
		cmd := exec.Command(bin, "./...")
		cmd.Dir = mod
		out, err := cmd.CombinedOutput()
		var exit *exec.ExitError
		require.ErrorAs(t, err, &exit, "%s", out)
		assert.Equal(t, 3, exit.ExitCode(), "findings exit with 3:\n%s", out)
		clean := exec.Command(bin, "-leak=false", "-useafterfree=false", "-keptslice=false", "-doublefree=false", "-gopointer=false", "./...")
		clean.Dir = mod
		out, err = clean.CombinedOutput()
		assert.NoError(t, err, "with every check off, no findings:\n%s", out)
	})
}

func lineOf(posn string) int {
	parts := strings.Split(posn, ":")
	if len(parts) < 3 {
		return -1
	}
	n := 0
	for _, c := range parts[len(parts)-2] {
		n = n*10 + int(c-'0')
	}
	return n
}

func itoa(n int) string { return strconv.Itoa(n) }
