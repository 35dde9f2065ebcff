package ownership

import (
	"go/ast"
	"go/token"
	"strings"

	"golang.org/x/tools/go/analysis"
)

// Directives are line comments that start with "//membridge:" (no space).
//
//	//membridge:owns b            in a function's doc comment: the function
//	                              takes ownership of its parameter b
//	//membridge:ignore leak why   silences the check leak on this line and the
//	                              next one; the reason is required
const directivePrefix = "//membridge:"

// directives are what a package's comments declare.
type directives struct {
	// owns maps a function declaration to the indexes of the parameters it
	// takes ownership of.
	owns map[*ast.FuncDecl][]int
	// ignores maps file and line to the checks silenced there.
	ignores map[lineKey]map[string]bool
	// problems are malformed directives, reported by the ownership analyzer.
	problems []analysis.Diagnostic
}

type lineKey struct {
	file string
	line int
}

func parseDirectives(pass *analysis.Pass) *directives {
	d := &directives{owns: map[*ast.FuncDecl][]int{}, ignores: map[lineKey]map[string]bool{}}
	docs := map[*ast.Comment]*ast.FuncDecl{}
	for _, f := range pass.Files {
		for _, decl := range f.Decls {
			if fd, ok := decl.(*ast.FuncDecl); ok && fd.Doc != nil {
				for _, c := range fd.Doc.List {
					docs[c] = fd
				}
			}
		}
	}
	for _, f := range pass.Files {
		for _, cg := range f.Comments {
			for _, c := range cg.List {
				text, ok := strings.CutPrefix(c.Text, directivePrefix)
				if !ok {
					continue
				}
				// A comment after the directive is no part of it.
				if i := strings.Index(text, " //"); i >= 0 {
					text = text[:i]
				}
				verb, args, _ := strings.Cut(text, " ")
				switch verb {
				case "owns":
					d.parseOwns(c, docs[c], strings.Fields(args))
				case "ignore":
					d.parseIgnore(pass.Fset, c, args)
				default:
					d.problem(c.Pos(), "unknown directive //membridge:%s (known: owns, ignore)", verb)
				}
			}
		}
	}
	return d
}

func (d *directives) problem(pos token.Pos, format string, args ...any) {
	d.problems = append(d.problems, analysis.Diagnostic{Pos: pos, Category: "directive", Message: sprintf(format, args...)})
}

func (d *directives) parseOwns(c *ast.Comment, fd *ast.FuncDecl, names []string) {
	if fd == nil {
		d.problem(c.Pos(), "//membridge:owns belongs in a function's doc comment")
		return
	}
	if len(names) == 0 {
		d.problem(c.Pos(), "//membridge:owns names no parameter")
		return
	}
	var params []string
	for _, field := range fd.Type.Params.List {
		if len(field.Names) == 0 {
			params = append(params, "_")
		}
		for _, n := range field.Names {
			params = append(params, n.Name)
		}
	}
	for _, name := range names {
		i := indexOf(params, name)
		if i < 0 {
			d.problem(c.Pos(), "//membridge:owns names %s, which is no parameter of %s", name, fd.Name.Name)
			continue
		}
		d.owns[fd] = append(d.owns[fd], i)
	}
}

func (d *directives) parseIgnore(fset *token.FileSet, c *ast.Comment, args string) {
	checks, reason, _ := strings.Cut(strings.TrimSpace(args), " ")
	if checks == "" {
		d.problem(c.Pos(), "//membridge:ignore needs the check to silence and a reason: //membridge:ignore <check> <reason>")
		return
	}
	if strings.TrimSpace(reason) == "" {
		d.problem(c.Pos(), "//membridge:ignore %s needs a reason after the check's name", checks)
		return
	}
	pos := fset.Position(c.Pos())
	for _, check := range strings.Split(checks, ",") {
		if !knownCheck(check) {
			d.problem(c.Pos(), "//membridge:ignore names an unknown check %q (known: %s)", check, strings.Join(checkNames, ", "))
			continue
		}
		for _, line := range []int{pos.Line, pos.Line + 1} {
			k := lineKey{pos.Filename, line}
			if d.ignores[k] == nil {
				d.ignores[k] = map[string]bool{}
			}
			d.ignores[k][check] = true
		}
	}
}

// ignored says whether check is silenced at pos.
func (d *directives) ignored(fset *token.FileSet, check string, pos token.Pos) bool {
	p := fset.Position(pos)
	return d.ignores[lineKey{p.Filename, p.Line}][check]
}

func indexOf(s []string, v string) int {
	for i, x := range s {
		if x == v {
			return i
		}
	}
	return -1
}
