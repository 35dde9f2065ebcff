package ownership

import (
	"fmt"
	"go/ast"
	"go/token"
	"go/types"
	"reflect"
	"sort"
	"strings"

	"golang.org/x/tools/go/analysis"
	"golang.org/x/tools/go/analysis/passes/buildssa"
	"golang.org/x/tools/go/ssa"
)

// The checks, by name: each is an Analyzer of that name, and the name used
// in //membridge:ignore directives.
const (
	CheckLeak         = "leak"
	CheckUseAfterFree = "useafterfree"
	CheckKeptSlice    = "keptslice"
	CheckDoubleFree   = "doublefree"
	CheckGoPointer    = "gopointer"
)

var checkNames = []string{CheckLeak, CheckUseAfterFree, CheckKeptSlice, CheckDoubleFree, CheckGoPointer}

func knownCheck(name string) bool { return indexOf(checkNames, name) >= 0 }

func sprintf(format string, args ...any) string { return fmt.Sprintf(format, args...) }

// Analyzer follows membridge handles through each function of a package and
// records what the checks report; it reports malformed directives itself and
// exports, as facts, which function parameters take ownership of a handle.
// The checks below require it.
var Analyzer = &analysis.Analyzer{
	Name:       "ownership",
	Doc:        "follows membridge handles through each function; reports malformed //membridge: directives",
	URL:        "https://github.com/membridge/membridge/blob/main/docs/membridgevet.md",
	Requires:   []*analysis.Analyzer{buildssa.Analyzer},
	Run:        run,
	FactTypes:  []analysis.Fact{new(OwnsFact)},
	ResultType: reflect.TypeOf((*Result)(nil)),
}

// OwnsFact marks a function that takes ownership of some of its parameters
// (by index, the receiver not counted): a handle passed there is handed on.
// It comes from a //membridge:owns directive or from the function's body
// freeing, storing, returning or handing on the parameter.
type OwnsFact struct{ Params []int }

// AFact marks OwnsFact as a fact.
func (*OwnsFact) AFact() {}

func (f *OwnsFact) String() string { return fmt.Sprintf("owns%v", f.Params) }

// Result is what Analyzer found in one package, for the checks to report.
type Result struct {
	Findings []Finding
	dirs     *directives
}

// A Finding is one diagnostic of one check.
type Finding struct {
	Check      string
	Diagnostic analysis.Diagnostic
}

func newCheck(name, doc string) *analysis.Analyzer {
	return &analysis.Analyzer{
		Name:     name,
		Doc:      doc,
		URL:      "https://github.com/membridge/membridge/blob/main/docs/membridgevet.md#" + name,
		Requires: []*analysis.Analyzer{Analyzer},
		Run: func(pass *analysis.Pass) (any, error) {
			res := pass.ResultOf[Analyzer].(*Result)
			for _, f := range res.Findings {
				if f.Check == name && !res.dirs.ignored(pass.Fset, name, f.Diagnostic.Pos) {
					pass.Report(f.Diagnostic)
				}
			}
			return nil, nil
		},
	}
}

var (
	// Leak reports a handle that is neither freed nor handed on, on some
	// path out of the function that made it.
	Leak = newCheck(CheckLeak, "reports membridge handles not freed or handed on on some path\n\n"+
		"A handle from a membridge constructor (native.Alloc, AllocSliceZeroed, Adopt, NewArena, views, cuda\n"+
		"allocations, pinned buffers, handle.New, ...) must be freed on every path out of the function\n"+
		"that made it, or handed on: returned, stored, sent, or given to a function that owns it.")
	// UseAfterFree reports a use of a handle, or of a slice or pointer taken
	// from it, after its Free, Move or Release.
	UseAfterFree = newCheck(CheckUseAfterFree, "reports uses of membridge handles and their memory after Free, Move or Release\n\n"+
		"After Free (Close, Release, Move, HandToC) the handle reports an error and the slices and\n"+
		"pointers taken from it (Bytes, Ptr, Values, DevicePtr) point at freed memory.")
	// KeptSlice reports a slice or pointer taken from a handle used after
	// the handle's last use, when the function neither frees the handle nor
	// hands it on: the safety net may free the memory under it.
	KeptSlice = newCheck(CheckKeptSlice, "reports slices and pointers used after their membridge handle's last use\n\n"+
		"A Bytes or Ptr result does not keep its handle alive: once the handle is unreachable, the\n"+
		"safety net may free its memory while the slice is still in use. Free the handle after the\n"+
		"last use of the slice, or keep it alive with runtime.KeepAlive.")
	// DoubleFree reports a second Free of a handle on a straight path, and
	// Free of a borrowed reference (which must be released).
	DoubleFree = newCheck(CheckDoubleFree, "reports membridge handles freed twice, or borrowed handles freed\n\n"+
		"A second Free on a path where the first always ran gets ErrFreed; a reference from\n"+
		"cache.Get must be given back with Release, not freed.")
	// GoPointer reports element types holding Go pointers given to the
	// constructors of typed C and device memory, which refuse them at run
	// time.
	GoPointer = &analysis.Analyzer{
		Name:     CheckGoPointer,
		Doc:      "reports element types with Go pointers given to typed C or device memory\n\ncgo forbids Go pointers in C memory; native.AllocSliceZeroed and the cuda slice functions refuse such\ntypes at run time with ErrPointerType. This check finds them at build time.",
		URL:      "https://github.com/membridge/membridge/blob/main/docs/membridgevet.md#gopointer",
		Requires: []*analysis.Analyzer{Analyzer},
		Run:      runGoPointer,
	}
)

// Analyzers is the set cmd/membridgevet runs: the checks and the analyzer
// they share.
var Analyzers = []*analysis.Analyzer{Analyzer, Leak, UseAfterFree, KeptSlice, DoubleFree, GoPointer}

type state struct {
	pass     *analysis.Pass
	dirs     *directives
	owns     map[*types.Func][]int
	sites    map[token.Pos]site
	findings []Finding
	reported map[ssa.Instruction]bool
	// fn is the function being checked: where a finding is reported when
	// nothing nearer in it has a position.
	fn *ssa.Function
}

// site is the statement that keeps a constructor's result in a variable.
type site struct {
	name   string
	errVar string
	list   []ast.Stmt // the statements around it
	index  int        // its index in list
}

func run(pass *analysis.Pass) (any, error) {
	s := &state{
		pass:     pass,
		dirs:     parseDirectives(pass),
		owns:     map[*types.Func][]int{},
		sites:    map[token.Pos]site{},
		reported: map[ssa.Instruction]bool{},
	}
	for _, p := range s.dirs.problems {
		pass.Report(p)
	}
	s.findSites()
	funcs := pass.ResultOf[buildssa.Analyzer].(*buildssa.SSA).SrcFuncs
	s.inferOwnership(funcs)
	for _, fn := range funcs {
		s.checkFunc(fn)
	}
	sort.SliceStable(s.findings, func(i, j int) bool { return s.findings[i].Diagnostic.Pos < s.findings[j].Diagnostic.Pos })
	return &Result{Findings: s.findings, dirs: s.dirs}, nil
}

func (s *state) ownsOf(f *types.Func) []int {
	f = f.Origin()
	if f.Pkg() == s.pass.Pkg {
		return s.owns[f]
	}
	var fact OwnsFact
	if s.pass.ImportObjectFact(f, &fact) {
		return fact.Params
	}
	return nil
}

// inferOwnership finds the parameters each function takes ownership of, to
// a fixed point (a function that hands a parameter to another that owns it
// owns it too), and exports them as facts.
func (s *state) inferOwnership(funcs []*ssa.Function) {
	for fd, params := range s.dirs.owns {
		if f, ok := s.pass.TypesInfo.Defs[fd.Name].(*types.Func); ok {
			s.owns[f] = append(s.owns[f], params...)
		}
	}
	for range 8 {
		changed := false
		for _, fn := range funcs {
			obj, ok := fn.Object().(*types.Func)
			if !ok || fn.Parent() != nil {
				continue
			}
			params := fn.Params
			if fn.Signature.Recv() != nil {
				params = params[1:]
			}
			for i, p := range params {
				if handleOf(p.Type()) == "" || containsInt(s.owns[obj], i) {
					continue
				}
				t := newTracked(fn, p, nil, handleOf(p.Type()))
				t.follow(s.ownsOf)
				for _, e := range t.events {
					if e.kind.ends() {
						s.owns[obj] = append(s.owns[obj], i)
						changed = true
						break
					}
				}
			}
		}
		if !changed {
			break
		}
	}
	for f, params := range s.owns {
		sort.Ints(params)
		s.pass.ExportObjectFact(f, &OwnsFact{Params: params})
	}
}

// findSites records, for each call kept in a variable by an assignment, the
// variable and the statements around it (for messages and suggested fixes).
func (s *state) findSites() {
	for _, f := range s.pass.Files {
		ast.Inspect(f, func(n ast.Node) bool {
			var list []ast.Stmt
			switch n := n.(type) {
			case *ast.BlockStmt:
				list = n.List
			case *ast.CaseClause:
				list = n.Body
			case *ast.CommClause:
				list = n.Body
			default:
				return true
			}
			for i, st := range list {
				as, ok := st.(*ast.AssignStmt)
				if !ok || len(as.Rhs) != 1 || len(as.Lhs) == 0 {
					continue
				}
				call, ok := ast.Unparen(as.Rhs[0]).(*ast.CallExpr)
				if !ok {
					continue
				}
				id, ok := as.Lhs[0].(*ast.Ident)
				if !ok {
					continue
				}
				st := site{name: id.Name, list: list, index: i}
				if len(as.Lhs) > 1 {
					if e, ok := as.Lhs[len(as.Lhs)-1].(*ast.Ident); ok {
						st.errVar = e.Name
					}
				}
				s.sites[call.Lparen] = st
			}
			return true
		})
	}
}

func (s *state) checkFunc(fn *ssa.Function) {
	s.fn = fn
	for _, b := range fn.Blocks {
		for _, instr := range b.Instrs {
			call, ok := instr.(*ssa.Call)
			if !ok {
				continue
			}
			callee := call.Call.StaticCallee()
			if callee == nil {
				continue
			}
			obj, _ := callee.Object().(*types.Func)
			if obj == nil && callee.Origin() != nil {
				obj, _ = callee.Origin().Object().(*types.Func)
			}
			key, borrowed, ok := constructed(obj)
			if !ok || refused(callee, obj) {
				continue
			}
			v := firstResult(call)
			if v == nil {
				// The handle is discarded at once.
				s.report(CheckLeak, posOf(call), nil, "the %s made by %s is discarded: nothing can free it", key, funcKey(obj))
				continue
			}
			t := newTracked(fn, v, call, key)
			t.ctor = funcKey(obj)
			t.borrowed = borrowed
			if tup, ok := call.Type().(*types.Tuple); ok && tup.Len() == 2 {
				if e := extract(call, 1); e != nil {
					t.valid[e] = true
				}
			}
			t.follow(s.ownsOf)
			s.checkHandle(t)
		}
	}
}

// refused says whether a call of fn (obj, instantiated) never makes a handle:
// the constructors of typed C and device memory (native.AllocSliceZeroed,
// cuda.AllocSlice, CloneHtoD, ...) refuse an element type that holds Go
// pointers, on every call, with ErrPointerType and a nil handle, before
// anything else (the gopointer check reports the call). Nothing is owed for
// such a handle, wherever its error goes: a test of that refusal that
// discards the handle (_, or a helper that drops it) leaks nothing.
func refused(fn *ssa.Function, obj *types.Func) bool {
	if !elementTypeFuncs[funcKey(obj)] {
		return false
	}
	for _, ta := range fn.TypeArgs() {
		if p, _ := findPointer(ta, "T", map[types.Type]bool{}); p != "" {
			return true
		}
	}
	return false
}

func (s *state) checkHandle(t *tracked) {
	name := s.handleName(t)
	made := s.pos(t.def.Pos())
	shared := false
	ends := false
	for _, e := range t.events {
		shared = shared || e.kind == evShare
		ends = ends || e.kind.ends()
	}

	// leak
	if end, path := t.leakPath(); end != nil {
		var fixes []analysis.SuggestedFix
		if !ends {
			fixes = s.deferFix(t)
		}
		what := "is not freed or handed on"
		where := s.exitText(end)
		if end == ssa.Instruction(t.def) {
			where = "before the next iteration makes another"
		}
		s.report(CheckLeak, posOf(t.def), fixes, "%s (%s, made by %s at %s) %s %s%s",
			name, t.key, t.ctor, made, what, where, s.pathText(path))
	}

	// double free, and Free of a borrowed reference
	var frees []ssa.Instruction
	for instr, e := range t.events {
		if e.kind == evFree || e.kind == evConsume {
			frees = append(frees, instr)
		}
		if t.borrowed && (e.kind == evFree || e.kind == evDeferred) && e.method != "Release" {
			s.report(CheckDoubleFree, posOf(instr), nil, "%s.%s: %s is a reference borrowed from %s at %s; give it back with Release, not %s",
				name, e.method, name, t.ctor, made, e.method)
		}
	}
	sortInstrs(frees)
	if !shared {
		for _, a := range frees {
			for _, b := range frees {
				if a != b && t.events[b].kind == evFree && dominates(a, b) && !s.reported[b] && t.reaches(a, b) {
					s.reported[b] = true
					verb := "freed"
					if t.events[a].kind == evConsume {
						verb = "invalidated by " + t.events[a].method
					}
					s.report(CheckDoubleFree, posOf(b), nil, "%s.%s: %s (made by %s at %s) was already %s at %s on every path here",
						name, t.events[b].method, name, t.ctor, made, verb, s.pos(a.Pos()))
				}
			}
		}
	}

	// use after free
	if !shared {
		for _, f := range frees {
			fe := t.events[f]
			t.reachable(f, false, func(instr ssa.Instruction) bool {
				if s.reported[instr] {
					return true
				}
				if e, ok := t.events[instr]; ok {
					if e.kind == evUse && !afterFree[e.method] && e.method != closureRead {
						s.reported[instr] = true
						what := name
						if e.method != "" {
							what = name + "." + e.method
						}
						s.report(CheckUseAfterFree, posOf(instr), nil, "%s: %s (made by %s at %s) is used after %s at %s",
							what, name, t.ctor, made, fe.method, s.pos(f.Pos()))
						return false
					}
					if e.kind.ends() {
						return false
					}
				}
				for _, u := range t.derivedUses {
					if u.instr == instr {
						s.reported[instr] = true
						s.report(CheckUseAfterFree, posOf(instr), nil, "the memory of %s (from %s at %s) is used after %s.%s at %s",
							name, s.callText(u.from), s.pos(u.from.Pos()), name, fe.method, s.pos(f.Pos()))
						return false
					}
				}
				return true
			})
		}
	}

	// memory used after a Reset that ended it: only what was taken before
	// the Reset on every path to it.
	for _, r := range t.resets {
		t.reachable(r, false, func(instr ssa.Instruction) bool {
			if c, ok := instr.(ssa.CallInstruction); ok && t.events[instr].kind == evUse {
				if f := c.Common().StaticCallee(); f != nil && resetters[funcKeyOf(f)] {
					return false // the next Reset takes over
				}
			}
			for _, u := range t.derivedUses {
				if u.instr == instr && !s.reported[instr] && dominates(u.from, r) {
					s.reported[instr] = true
					s.report(CheckUseAfterFree, posOf(instr), nil, "the memory of %s (from %s at %s) is used after %s.%s at %s, which ended it",
						name, s.callText(u.from), s.pos(u.from.Pos()), name, t.events[r].method, s.pos(r.Pos()))
					return false // one report per Reset
				}
			}
			return true
		})
	}

	// kept slice
	if !ends && len(t.derivedUses) > 0 {
		// The first use in the source past the handle's last one.
		sort.SliceStable(t.derivedUses, func(i, j int) bool { return posOf(t.derivedUses[i].instr) < posOf(t.derivedUses[j].instr) })
		uses := map[ssa.Instruction]bool{}
		for instr, e := range t.events {
			if e.kind == evUse || e.kind == evShare {
				uses[instr] = true
			}
		}
		for _, u := range t.derivedUses {
			live := false
			t.reachable(u.instr, true, func(instr ssa.Instruction) bool {
				if uses[instr] {
					live = true
					return false
				}
				return true
			})
			if live || s.reported[u.instr] {
				continue
			}
			s.reported[u.instr] = true
			s.report(CheckKeptSlice, posOf(u.instr), nil, "the memory of %s (from %s at %s) is used after the last use of %s (made by %s at %s), which is never freed or handed on: the safety net may free it first; free %s after this use, or call runtime.KeepAlive(%s)",
				name, s.callText(u.from), s.pos(u.from.Pos()), name, t.ctor, made, name, name)
			break
		}
	}
}

// reaches says whether b can run after a succeeded: not only on paths
// where a's error shows that it failed.
func (t *tracked) reaches(a, b ssa.Instruction) bool {
	found := false
	t.reachable(a, false, func(instr ssa.Instruction) bool {
		if instr == b {
			found = true
		}
		return !found
	})
	return found
}

func funcKeyOf(f *ssa.Function) string {
	obj, _ := f.Object().(*types.Func)
	if obj == nil {
		return ""
	}
	return funcKey(obj)
}

func sortInstrs(s []ssa.Instruction) {
	sort.Slice(s, func(i, j int) bool { return s[i].Pos() < s[j].Pos() })
}

// report records a finding at pos. Every finding carries a position, so
// that it can be read and silenced with //membridge:ignore: where pos is
// none, the finding is reported at the function being checked.
func (s *state) report(check string, pos token.Pos, fixes []analysis.SuggestedFix, format string, args ...any) {
	if !pos.IsValid() && s.fn != nil {
		pos = funcPos(s.fn)
	}
	s.findings = append(s.findings, Finding{Check: check, Diagnostic: analysis.Diagnostic{
		Pos:            pos,
		Category:       check,
		Message:        check + ": " + fmt.Sprintf(format, args...),
		SuggestedFixes: fixes,
	}})
}

func (s *state) pos(p token.Pos) string {
	if !p.IsValid() {
		return "?"
	}
	pp := s.pass.Fset.Position(p)
	return fmt.Sprintf("%s:%d", filepathBase(pp.Filename), pp.Line)
}

func filepathBase(p string) string {
	if i := strings.LastIndexAny(p, `/\`); i >= 0 {
		return p[i+1:]
	}
	return p
}

func (s *state) handleName(t *tracked) string {
	if st, ok := s.sites[t.def.Pos()]; ok && st.name != "_" {
		return st.name
	}
	return "the " + t.key
}

func (s *state) callText(instr ssa.Instruction) string {
	c, ok := instr.(ssa.CallInstruction)
	if !ok {
		return "?"
	}
	if callee := c.Common().StaticCallee(); callee != nil {
		return callee.Name() + "()"
	}
	return "?"
}

func (s *state) exitText(end ssa.Instruction) string {
	if end.Pos().IsValid() {
		return "at the return at " + s.pos(end.Pos())
	}
	if fn := end.Parent(); fn != nil && fn.Syntax() != nil {
		return "at the end of the function (" + s.pos(fn.Syntax().End()-1) + ")"
	}
	return "when the function returns"
}

func (s *state) pathText(path []branch) string {
	var parts []string
	for _, b := range path {
		// The condition's position, when it is computed at the branch (a
		// parameter or a phi would point elsewhere).
		c, ok := b.at.Cond.(ssa.Instruction)
		if !ok || c.Block() != b.at.Block() || !c.Pos().IsValid() {
			continue
		}
		p := c.Pos()
		parts = append(parts, fmt.Sprintf("%s %v", s.pos(p), b.taken))
	}
	if len(parts) == 0 {
		return ""
	}
	return "; path: " + strings.Join(parts, ", ")
}

// deferFix inserts "defer x.Free()" after the statement that makes x, or
// after the error check that follows it.
func (s *state) deferFix(t *tracked) []analysis.SuggestedFix {
	st, ok := s.sites[t.def.Pos()]
	if !ok || st.name == "_" || t.borrowed && handleTypes[t.key].freer != "Release" {
		return nil
	}
	after := st.index
	if after+1 < len(st.list) && st.errVar != "" {
		if ifs, ok := st.list[after+1].(*ast.IfStmt); ok && mentions(ifs.Cond, st.errVar) {
			after++
		}
	}
	freer := handleTypes[t.key].freer
	if t.borrowed {
		freer = "Release"
	}
	stmt := fmt.Sprintf("defer %s.%s()", st.name, freer)
	// Before the next statement, so that a comment at the end of the line
	// stays where it is; at the end of the block when there is none.
	edit := analysis.TextEdit{Pos: st.list[after].End(), End: st.list[after].End(), NewText: []byte("\n" + stmt)}
	if after+1 < len(st.list) {
		next := st.list[after+1].Pos()
		edit = analysis.TextEdit{Pos: next, End: next, NewText: []byte(stmt + "\n")}
	}
	return []analysis.SuggestedFix{{Message: stmt, TextEdits: []analysis.TextEdit{edit}}}
}

func mentions(e ast.Expr, name string) bool {
	found := false
	ast.Inspect(e, func(n ast.Node) bool {
		if id, ok := n.(*ast.Ident); ok && id.Name == name {
			found = true
		}
		return !found
	})
	return found
}

// posOf is where instr is in the source; for an implicit operation, which
// has no position (a conversion, the len of a range loop, a phi), where its
// result is used, or else the nearest instruction before it in its block,
// or else the nearest one before its block (the blocks of a range loop's
// header and of an empty body have none), or else its function: never
// token.NoPos, so that a finding at instr can be read and silenced.
func posOf(instr ssa.Instruction) token.Pos {
	start := instr
	for range 4 {
		if p := instr.Pos(); p.IsValid() {
			return p
		}
		v, ok := instr.(ssa.Value)
		if !ok || v.Referrers() == nil || len(*v.Referrers()) == 0 {
			break
		}
		instr = (*v.Referrers())[0]
	}
	b := start.Block()
	if b == nil {
		return funcPos(start.Parent())
	}
	p := before(start)
	if !p.IsValid() {
		return funcPos(start.Parent())
	}
	// The len of a range loop: the loop's statement, the first range
	// statement after the code before it.
	if c, ok := start.(*ssa.Call); ok {
		if bi, ok := c.Call.Value.(*ssa.Builtin); ok && bi.Name() == "len" {
			if r := rangeAfter(start.Parent(), p); r.IsValid() {
				return r
			}
		}
	}
	return p
}

// before is the position of the nearest instruction before instr that has
// one: in its block, else the first of its block, else the last of the
// blocks before it, nearest first (the blocks of a range loop's header and
// of an empty loop body have none); token.NoPos when there is none.
func before(instr ssa.Instruction) token.Pos {
	b := instr.Block()
	for i := indexIn(instr); i >= 0; i-- {
		if p := b.Instrs[i].Pos(); p.IsValid() {
			return p
		}
	}
	for _, in := range b.Instrs {
		if p := in.Pos(); p.IsValid() {
			return p
		}
	}
	seen := map[*ssa.BasicBlock]bool{b: true}
	queue := append([]*ssa.BasicBlock(nil), b.Preds...)
	for len(queue) > 0 {
		pred := queue[0]
		queue = queue[1:]
		if seen[pred] {
			continue
		}
		seen[pred] = true
		for i := len(pred.Instrs) - 1; i >= 0; i-- {
			if p := pred.Instrs[i].Pos(); p.IsValid() {
				return p
			}
		}
		queue = append(queue, pred.Preds...)
	}
	return token.NoPos
}

// funcPos is where fn is declared (its name, or a function literal's func
// keyword), or the start of its body.
func funcPos(fn *ssa.Function) token.Pos {
	if fn == nil {
		return token.NoPos
	}
	if p := fn.Pos(); p.IsValid() {
		return p
	}
	if syn := fn.Syntax(); syn != nil {
		return syn.Pos()
	}
	if fn.Parent() != nil {
		return funcPos(fn.Parent())
	}
	return token.NoPos
}

// rangeAfter is the position of the first range statement of fn after p.
func rangeAfter(fn *ssa.Function, p token.Pos) token.Pos {
	if fn == nil || fn.Syntax() == nil {
		return token.NoPos
	}
	best := token.NoPos
	ast.Inspect(fn.Syntax(), func(n ast.Node) bool {
		// A range over a constant count has no len.
		if r, ok := n.(*ast.RangeStmt); ok && r.For > p && (!best.IsValid() || r.For < best) && !isBasicLit(r.X) {
			best = r.For
		}
		return true
	})
	return best
}

func isBasicLit(e ast.Expr) bool {
	_, ok := ast.Unparen(e).(*ast.BasicLit)
	return ok
}
