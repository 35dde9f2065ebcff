// Package archtest keeps the import arrows of docs/architecture.md true:
// it reads the module's packages with `go list`, in the default build and
// under the cuda build tag, and fails when the code and the page disagree.
package archtest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

const module = "github.com/membridge/membridge"

// notYetBuilt names packages the page draws that the tree may not hold yet;
// their arrows are checked from the moment the package exists.
var notYetBuilt = map[string]bool{
	"tracker/leaktest": true,
}

// pkg is what the tests read of `go list -json`.
type pkg struct {
	ImportPath string
	Imports    []string
	Deps       []string
	Error      *struct{ Err string }
}

// builds are the builds the rules hold in: the default one and the cuda
// build tag's.
var builds = []string{"", "cuda"}

var (
	listOnce sync.Once
	listed   map[string]map[string]pkg // build tags -> path (module-relative) -> package
	listErr  error
)

// root is the main module's directory.
func root(t *testing.T) string {
	t.Helper()
	r, err := filepath.Abs(filepath.Join("..", ".."))
	require.NoError(t, err)
	return r
}

// goList runs `go list -e -json` over ./... in dir with the given build tags.
func goList(dir, tags string) ([]pkg, error) {
	goCmd, err := exec.LookPath("go")
	if err != nil {
		return nil, fmt.Errorf("archtest: no go command on PATH: %w", err)
	}
	args := []string{"list", "-e", "-json"}
	if tags != "" {
		args = append(args, "-tags", tags)
	}
	cmd := exec.Command(goCmd, append(args, "./...")...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("archtest: go list -tags %q in %s: %w: %s", tags, dir, err, stderr.Bytes())
	}
	var pkgs []pkg
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p pkg
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			return pkgs, nil
		} else if err != nil {
			return nil, fmt.Errorf("archtest: decoding go list's output: %w", err)
		}
		pkgs = append(pkgs, p)
	}
}

// packages returns the main module's packages in a build, by their path
// relative to the module ("tracker", "cuda/fakecuda").
func packages(t *testing.T, tags string) map[string]pkg {
	t.Helper()
	listOnce.Do(func() {
		listed = map[string]map[string]pkg{}
		for _, b := range builds {
			pkgs, err := goList(root(t), b)
			if err != nil {
				listErr = err
				return
			}
			m := map[string]pkg{}
			for _, p := range pkgs {
				if p.Error != nil {
					listErr = fmt.Errorf("archtest: go list -tags %q: %s: %s", b, p.ImportPath, p.Error.Err)
					return
				}
				if rel, ok := ours(p.ImportPath); ok {
					m[rel] = p
				}
			}
			listed[b] = m
		}
	})
	require.NoError(t, listErr)
	return listed[tags]
}

// ours returns the path of an import path of the main module relative to
// the module, and whether it is one; the bench module's packages are not.
func ours(path string) (string, bool) {
	rel, ok := strings.CutPrefix(path, module+"/")
	if !ok || rel == "bench" || strings.HasPrefix(rel, "bench/") {
		return "", false
	}
	return rel, true
}

// ourImports returns the module-relative paths among paths.
func ourImports(paths []string) []string {
	var rel []string
	for _, p := range paths {
		if r, ok := ours(p); ok {
			rel = append(rel, r)
		}
	}
	return rel
}

func isInternal(rel string) bool {
	return strings.HasPrefix(rel, "internal/") || strings.Contains(rel, "/internal/")
}

// The core ledger knows none of its users: nothing it links, directly or
// not, is a membridge package but leaf helpers under internal/.
func TestCoreTrackerImportsNoMembridgePackage(t *testing.T) {
	for _, b := range builds {
		pkgs := packages(t, b)
		tr, ok := pkgs["tracker"]
		require.True(t, ok, "go list -tags %q found no package tracker", b)
		for _, dep := range ourImports(tr.Deps) {
			if !isInternal(dep) {
				t.Errorf("build %q: tracker links %s: the core ledger must import no membridge package (docs/architecture.md)", b, dep)
				continue
			}
			if imps := ourImports(pkgs[dep].Imports); len(imps) > 0 {
				t.Errorf("build %q: tracker links %s, which imports %v: a helper the core uses must import no membridge package", b, dep, imps)
			}
		}
	}
}

// A program that uses only device memory links none of the host
// allocator's C.
func TestCudaDoesNotImportNative(t *testing.T) {
	for _, b := range builds {
		cu, ok := packages(t, b)["cuda"]
		require.True(t, ok, "go list -tags %q found no package cuda", b)
		if slices.Contains(ourImports(cu.Deps), "native") {
			t.Errorf("build %q: cuda links native (docs/architecture.md: cuda does not import native)", b)
		}
	}
}

// A helper written for tests (an internal package that imports testing)
// is imported by tests only: no library, command or example links it.
func TestTestHelpersAreImportedByTestsOnly(t *testing.T) {
	bench, err := goList(filepath.Join(root(t), "bench"), "")
	if err != nil && strings.Contains(err.Error(), "requires go >=") {
		// The minimum-Go lane: the bench module asks a newer Go than the
		// library does, so only the library's packages are checked there.
		t.Logf("bench module left out: %v", err)
		bench, err = nil, nil
	}
	require.NoError(t, err)
	for _, b := range builds {
		pkgs := packages(t, b)
		helper := map[string]bool{}
		for rel, p := range pkgs {
			if isInternal(rel) && slices.Contains(p.Imports, "testing") {
				helper[rel] = true
			}
		}
		all := make([]pkg, 0, len(pkgs)+len(bench))
		for _, p := range pkgs {
			all = append(all, p)
		}
		all = append(all, bench...)
		for _, p := range all {
			if rel, ok := ours(p.ImportPath); ok && helper[rel] {
				continue // helpers may build on each other
			}
			for _, imp := range ourImports(p.Imports) {
				if helper[imp] {
					t.Errorf("build %q: %s imports the test helper %s outside its tests", b, p.ImportPath, imp)
				}
			}
		}
	}
}

// arrow is an import drawn on the page: from imports to.
type arrow struct{ from, to string }

func (a arrow) String() string { return a.from + " -> " + a.to }

// drawnArrows reads the fenced ```arrows block of docs/architecture.md.
func drawnArrows(doc []byte) ([]arrow, error) {
	var arrows []arrow
	in, seen := false, false
	sc := bufio.NewScanner(bytes.NewReader(doc))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case !in && line == "```arrows":
			if seen {
				return nil, fmt.Errorf("line %d: a second arrows block", n)
			}
			in, seen = true, true
		case in && line == "```":
			in = false
		case in && line != "":
			from, to, ok := strings.Cut(line, "->")
			from, to = strings.TrimSpace(from), strings.TrimSpace(to)
			if !ok || from == "" || to == "" || strings.ContainsAny(from+to, " \t") {
				return nil, fmt.Errorf("line %d: %q is not \"a -> b\"", n, line)
			}
			arrows = append(arrows, arrow{from, to})
		}
	}
	if in {
		return nil, errors.New("the arrows block never ends")
	}
	if !seen {
		return nil, errors.New("no ```arrows block")
	}
	return arrows, sc.Err()
}

func TestDrawnArrows(t *testing.T) {
	got, err := drawnArrows([]byte("text\n```arrows\na -> b\n\n c/d ->e \n```\n"))
	require.NoError(t, err)
	require.Equal(t, []arrow{{"a", "b"}, {"c/d", "e"}}, got)
	for doc, want := range map[string]string{
		"no block\n":                           "no ```arrows",
		"```arrows\na -> b\n":                  "never ends",
		"```arrows\na b\n```\n":                "is not",
		"```arrows\na -> b c\n```\n":           "is not",
		"```arrows\n```\n```arrows\n```\n":     "second",
		"```arrows\n-> b\n```\n":               "is not",
		"```go\na -> b\n```\n```arrows\n```\n": "",
	} {
		_, err := drawnArrows([]byte(doc))
		if want == "" {
			require.NoError(t, err, doc)
			continue
		}
		require.ErrorContains(t, err, want, doc)
	}
}

// The arrows the page draws are exactly the imports among the packages it
// names, in the default build and under the cuda tag together: the page
// cannot drift from the code.
func TestArrowsMatchTheDoc(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join(root(t), "docs", "architecture.md"))
	require.NoError(t, err)
	arrows, err := drawnArrows(doc)
	require.NoError(t, err, "docs/architecture.md")

	// The code's imports among the packages the page names.
	code := map[arrow]bool{}
	exists := map[string]bool{}
	for _, b := range builds {
		for rel, p := range packages(t, b) {
			exists[rel] = true
			for _, imp := range ourImports(p.Imports) {
				code[arrow{rel, imp}] = true
			}
		}
	}
	named := map[string]bool{}
	drawn := map[arrow]bool{}
	for _, a := range arrows {
		drawn[a] = true
		for _, end := range []string{a.from, a.to} {
			named[end] = true
			if !exists[end] && !notYetBuilt[end] {
				t.Errorf("docs/architecture.md draws %s, but there is no package %s", a, end)
			}
		}
	}
	for _, a := range arrows {
		switch {
		case !exists[a.from] || !exists[a.to]:
			t.Logf("%s: not built yet", a)
		case !code[a]:
			t.Errorf("docs/architecture.md draws %s, but %s does not import %s", a, a.from, a.to)
		}
	}
	for a := range code {
		if !named[a.from] || !named[a.to] || drawn[a] {
			continue
		}
		t.Errorf("%s imports %s, which docs/architecture.md does not draw: draw the arrow, or remove the import", a.from, a.to)
	}
}
