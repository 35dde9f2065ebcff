package doccheck

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The speed figures in README.md and docs/*.md are generated: `make
// figures` runs every benchmark behind them and writes docs/figures/NAME.md,
// and each doc carries those files between marker comments,
//
//	<!-- figures:NAME begin -->
//	(the contents of docs/figures/NAME.md, verbatim)
//	<!-- figures:NAME end -->
//
// TestFiguresInDocs fails when a section differs from the committed file,
// so no figure in those places can be stated by hand or go stale. With
// -update-figures it rewrites the sections instead (make figures does).
var updateFigures = flag.Bool("update-figures", false, "rewrite the generated figure sections of README.md and docs/*.md from docs/figures")

var figureBegin = regexp.MustCompile(`<!-- figures:([a-z0-9-]+) begin -->\n`)

// fillFigures returns doc with every generated section replaced by
// read(NAME), and the names it filled.
func fillFigures(doc []byte, read func(name string) ([]byte, error)) ([]byte, []string, error) {
	var out bytes.Buffer
	var names []string
	rest := doc
	for {
		loc := figureBegin.FindSubmatchIndex(rest)
		if loc == nil {
			out.Write(rest)
			return out.Bytes(), names, nil
		}
		name := string(rest[loc[2]:loc[3]])
		end := []byte(fmt.Sprintf("<!-- figures:%s end -->", name))
		body := rest[loc[1]:]
		i := bytes.Index(body, end)
		if i < 0 {
			return nil, nil, fmt.Errorf("figures:%s begins but never ends", name)
		}
		if figureBegin.Match(body[:i]) {
			return nil, nil, fmt.Errorf("figures:%s: another section begins inside it", name)
		}
		text, err := read(name)
		if err != nil {
			return nil, nil, fmt.Errorf("figures:%s: %w", name, err)
		}
		if len(text) > 0 && text[len(text)-1] != '\n' {
			text = append(text, '\n')
		}
		out.Write(rest[:loc[1]])
		out.Write(text)
		out.Write(end)
		names = append(names, name)
		rest = body[i+len(end):]
	}
}

func TestFiguresInDocs(t *testing.T) {
	root := filepath.Join("..", "..")
	docs, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	docs = append(docs, filepath.Join(root, "README.md"))
	read := func(name string) ([]byte, error) {
		return os.ReadFile(filepath.Join(root, "docs", "figures", name+".md"))
	}
	used := map[string]bool{}
	for _, path := range docs {
		doc, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		filled, names, err := fillFigures(doc, read)
		if err != nil {
			t.Errorf("%s: %v", path, err)
			continue
		}
		for _, n := range names {
			used[n] = true
		}
		if bytes.Equal(filled, doc) {
			continue
		}
		if *updateFigures {
			if err := os.WriteFile(path, filled, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		t.Errorf("%s: a generated figure section differs from docs/figures (make figures writes both; go test ./internal/doccheck -run TestFiguresInDocs -update-figures copies the committed files in)", path)
	}
	files, _ := filepath.Glob(filepath.Join(root, "docs", "figures", "*.md"))
	for _, f := range files {
		if name := strings.TrimSuffix(filepath.Base(f), ".md"); !used[name] {
			t.Errorf("docs/figures/%s.md is shown by no doc: add a figures:%s section where it belongs", name, name)
		}
	}
}

func TestFillFigures(t *testing.T) {
	read := func(name string) ([]byte, error) {
		if name == "missing" {
			return nil, os.ErrNotExist
		}
		return []byte("new " + name), nil
	}
	for _, c := range []struct{ doc, want, err string }{
		{"no sections\n", "no sections\n", ""},
		{"a\n<!-- figures:x begin -->\nold\n<!-- figures:x end -->\nb\n", "a\n<!-- figures:x begin -->\nnew x\n<!-- figures:x end -->\nb\n", ""},
		{"<!-- figures:x begin -->\n<!-- figures:x end --><!-- figures:y begin -->\n<!-- figures:y end -->", "<!-- figures:x begin -->\nnew x\n<!-- figures:x end --><!-- figures:y begin -->\nnew y\n<!-- figures:y end -->", ""},
		{"<!-- figures:x begin -->\nold\n", "", "never ends"},
		{"<!-- figures:x begin -->\n<!-- figures:y begin -->\n<!-- figures:x end -->", "", "another section"},
		{"<!-- figures:missing begin -->\n<!-- figures:missing end -->", "", "not exist"},
	} {
		got, _, err := fillFigures([]byte(c.doc), read)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%q: error %v, want one saying %q", c.doc, err, c.err)
			}
			continue
		}
		if err != nil || string(got) != c.want {
			t.Errorf("%q: got %q, %v; want %q", c.doc, got, err, c.want)
		}
	}
}
