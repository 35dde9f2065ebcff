// Package doccheck keeps the project's catalogs honest: every test that
// docs/misuse.md names exists and runs in the default build, so the
// catalog cannot claim a test that was renamed, deleted or never written.
package doccheck

import (
	"bufio"
	"go/ast"
	"go/build"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// testRef is one test a catalog row names: `dir: TestName`, where dir is
// a directory of the module (native, examples/service, ...).
var testRef = regexp.MustCompile("`?([a-z][a-z0-9_/]*)`?:\\s*`?((?:Test|Fuzz|Example)[A-Za-z0-9_]*)`?")

// cTestRef is a test of the C harness a row names beside its Go test:
// `cext/ctest: test_name`, a function of cext/ctest/test_membridge.c that
// make cext-ctest, cext-tsan and memcheck run.
var cTestRef = regexp.MustCompile("cext/ctest: `?([a-z][a-z0-9_]+)")

type row struct {
	line   int
	text   string
	tests  [][2]string // {dir, name}
	ctests []string    // functions of the C harness
}

// catalogRows returns the table rows of docs/misuse.md past the header,
// each with the tests its last column names.
func catalogRows(t *testing.T) []row {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "..", "docs", "misuse.md"))
	require.NoError(t, err)
	defer f.Close()
	var rows []row
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if !strings.HasPrefix(line, "|") || strings.HasPrefix(line, "|---") || strings.HasPrefix(line, "| ---") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		last := cells[len(cells)-1]
		if strings.TrimSpace(cells[0]) == "misuse" {
			continue // a table's header
		}
		r := row{line: n, text: line}
		for _, m := range testRef.FindAllStringSubmatch(last, -1) {
			r.tests = append(r.tests, [2]string{m[1], m[2]})
		}
		for _, m := range cTestRef.FindAllStringSubmatch(last, -1) {
			r.ctests = append(r.ctests, m[1])
		}
		rows = append(rows, r)
	}
	require.NoError(t, sc.Err())
	return rows
}

// defaultBuildTests lists the test, fuzz and example functions of dir's
// _test.go files that the default build (no tags) compiles.
func defaultBuildTests(t *testing.T, dir string) map[string]bool {
	t.Helper()
	root := filepath.Join("..", "..", dir)
	entries, err := os.ReadDir(root)
	require.NoError(t, err, "catalog names directory %s", dir)
	ctx := build.Default
	ctx.CgoEnabled = true
	names := map[string]bool{}
	fset := token.NewFileSet()
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), "_test.go") {
			continue
		}
		ok, err := ctx.MatchFile(root, e.Name())
		require.NoError(t, err)
		if !ok {
			continue
		}
		file, err := parser.ParseFile(fset, filepath.Join(root, e.Name()), nil, parser.SkipObjectResolution)
		require.NoError(t, err)
		for _, d := range file.Decls {
			if fd, ok := d.(*ast.FuncDecl); ok && fd.Recv == nil {
				names[fd.Name.Name] = true
			}
		}
	}
	return names
}

func TestMisuseCatalogNamesRealTests(t *testing.T) {
	rows := catalogRows(t)
	require.NotEmpty(t, rows, "docs/misuse.md has no rows")
	harness, err := os.ReadFile(filepath.Join("..", "..", "cext", "ctest", "test_membridge.c"))
	require.NoError(t, err)
	found := map[string]map[string]bool{}
	for _, r := range rows {
		if len(r.tests)+len(r.ctests) == 0 {
			t.Errorf("docs/misuse.md:%d names no test (want `dir: TestName` in the last column): %s", r.line, r.text)
			continue
		}
		for _, name := range r.ctests {
			if !regexp.MustCompile(`(?m)static void ` + name + `\(void\)`).Match(harness) {
				t.Errorf("docs/misuse.md:%d names cext/ctest: %s, which cext/ctest/test_membridge.c does not define", r.line, name)
			}
		}
		for _, ref := range r.tests {
			dir, name := ref[0], ref[1]
			if found[dir] == nil {
				found[dir] = defaultBuildTests(t, dir)
			}
			if !found[dir][name] {
				t.Errorf("docs/misuse.md:%d names %s: %s, which the default build of %s does not have", r.line, dir, name, dir)
			}
		}
	}
}
