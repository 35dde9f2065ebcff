package ownership

import (
	"go/constant"
	"go/token"
	"go/types"
	"sort"
	"strings"

	"golang.org/x/tools/go/ssa"
)

// eventKind is what one instruction does to a tracked handle.
type eventKind int

const (
	evUse      eventKind = iota + 1 // reads the handle, or borrows it for a call
	evFree                          // frees it (Free, Close, Release, ...)
	evConsume                       // ends its ownership without freeing (Move, HandToC)
	evDeferred                      // a deferred Free (or other consumer)
	evHandoff                       // hands ownership on: returned, stored, sent, taken by a callee
	evShare                         // Retain: ownership becomes shared
)

// ends says whether the event ends the function's duty to free the handle.
func (k eventKind) ends() bool {
	return k == evFree || k == evConsume || k == evDeferred || k == evHandoff
}

type event struct {
	kind   eventKind
	method string // the method called on the handle, if any
}

// tracked is one handle in one function: made there by a constructor, or a
// parameter (for the ownership facts).
type tracked struct {
	fn       *ssa.Function
	def      *ssa.Call // the constructor's call; nil for a parameter
	key      string    // its handle type
	ctor     string    // the constructor, as "native.Alloc"
	borrowed bool      // a reference to be released, not freed
	// valid are the constructor's second result: an error (the handle is
	// nil when it is not nil) or a bool (the handle is nil when false).
	valid   map[ssa.Value]bool
	aliases map[ssa.Value]bool
	events  map[ssa.Instruction]event
	// derived are Go slices, pointers and device addresses into its memory;
	// derivedFrom says which deriving call each comes from.
	derived     map[ssa.Value]ssa.Instruction
	derivedUses []derivedUse
	// resets are calls that end the memory given out so far, not the
	// handle (Arena.Reset).
	resets []ssa.Instruction
}

type derivedUse struct {
	instr ssa.Instruction
	from  ssa.Instruction // the deriving call (b.Bytes(), ...)
}

// ownsLookup says which parameters (by index, receiver not counted) a
// function takes ownership of.
type ownsLookup func(f *types.Func) []int

func newTracked(fn *ssa.Function, v ssa.Value, def *ssa.Call, key string) *tracked {
	t := &tracked{
		fn:      fn,
		def:     def,
		key:     key,
		valid:   map[ssa.Value]bool{},
		aliases: map[ssa.Value]bool{v: true},
		events:  map[ssa.Instruction]event{},
		derived: map[ssa.Value]ssa.Instruction{},
	}
	return t
}

// follow finds the handle's aliases, what each instruction does with it,
// and the slices and pointers derived from it.
func (t *tracked) follow(owns ownsLookup) {
	work := make([]ssa.Value, 0, len(t.aliases))
	for v := range t.aliases {
		work = append(work, v)
	}
	addAlias := func(v ssa.Value) {
		if v != nil && !t.aliases[v] {
			t.aliases[v] = true
			work = append(work, v)
		}
	}
	// The validity of the handle (its constructor's error or bool) flows
	// through phis too: on the paths from the constructor, a phi of its
	// error is its error.
	validWork := make([]ssa.Value, 0, len(t.valid))
	for v := range t.valid {
		validWork = append(validWork, v)
	}
	for len(validWork) > 0 {
		v := validWork[len(validWork)-1]
		validWork = validWork[:len(validWork)-1]
		if refs := v.Referrers(); refs != nil {
			for _, r := range *refs {
				if phi, ok := r.(*ssa.Phi); ok && !t.valid[phi] {
					t.valid[phi] = true
					validWork = append(validWork, phi)
				}
				// An error captured by a closure lives in a cell: its loads
				// are the error, when nothing else is stored there.
				if st, ok := r.(*ssa.Store); ok && st.Val == v {
					if cell, ok := st.Addr.(*ssa.Alloc); ok {
						ls := loadsAfter(st)
						if storedOnce(cell) {
							ls = loads(cell)
						}
						for _, l := range ls {
							if !t.valid[l] {
								t.valid[l] = true
								validWork = append(validWork, l)
							}
						}
					}
				}
			}
		}
	}
	var derivedWork []ssa.Value
	addDerived := func(v ssa.Value, from ssa.Instruction) {
		if v == nil {
			return
		}
		if _, ok := t.derived[v]; !ok {
			t.derived[v] = from
			derivedWork = append(derivedWork, v)
		}
	}
	for len(work) > 0 {
		v := work[len(work)-1]
		work = work[:len(work)-1]
		refs := v.Referrers()
		if refs == nil {
			continue
		}
		for _, r := range *refs {
			switch r := r.(type) {
			case *ssa.DebugRef:
			case *ssa.Phi:
				addAlias(r)
			case *ssa.ChangeType:
				addAlias(r)
			case *ssa.TypeAssert:
				if !r.CommaOk {
					addAlias(r)
				}
			case *ssa.Call, *ssa.Defer, *ssa.Go:
				t.call(v, r, owns, addAlias, addDerived)
			case *ssa.Return, *ssa.MapUpdate, *ssa.Send, *ssa.MakeInterface, *ssa.MakeClosure:
				t.set(r, event{kind: evHandoff})
			case *ssa.Store:
				if r.Val == v {
					if cell, ok := r.Addr.(*ssa.Alloc); ok && storedOnce(cell) {
						t.cell(cell, owns, addAlias)
					} else {
						t.set(r, event{kind: evHandoff})
					}
				} else {
					t.set(r, event{kind: evUse})
				}
			case *ssa.BinOp:
				if !isNilCompare(r) {
					t.set(r, event{kind: evUse})
				}
			default:
				t.set(r, event{kind: evUse})
			}
		}
	}
	for len(derivedWork) > 0 {
		v := derivedWork[len(derivedWork)-1]
		derivedWork = derivedWork[:len(derivedWork)-1]
		from := t.derived[v]
		refs := v.Referrers()
		if refs == nil {
			continue
		}
		for _, r := range *refs {
			if _, ok := r.(*ssa.DebugRef); ok {
				continue
			}
			t.derivedUses = append(t.derivedUses, derivedUse{instr: r, from: from})
			switch r := r.(type) {
			case *ssa.Slice, *ssa.IndexAddr, *ssa.FieldAddr, *ssa.Convert, *ssa.ChangeType,
				*ssa.Phi, *ssa.SliceToArrayPointer, *ssa.MultiConvert:
				addDerived(r.(ssa.Value), from)
			case *ssa.Call:
				if b, ok := r.Call.Value.(*ssa.Builtin); ok {
					switch b.Name() {
					case "Slice", "String", "Add", "SliceData", "StringData":
						addDerived(r, from)
					}
				}
			}
		}
	}
}

// closureRead marks a closure that captures a handle and only reads it:
// making the closure is no use of the memory.
const closureRead = "(closure)"

// cell follows a handle kept in a variable that a closure captures (a heap
// cell in SSA): loads of the cell are the handle, and a closure that binds
// the cell hands the handle on only if its body frees it or hands it on.
func (t *tracked) cell(cell *ssa.Alloc, owns ownsLookup, addAlias func(ssa.Value)) {
	for _, r := range *cell.Referrers() {
		switch r := r.(type) {
		case *ssa.UnOp:
			if r.Op == token.MUL {
				addAlias(r)
			}
		case *ssa.Store, *ssa.DebugRef:
		case *ssa.MakeClosure:
			e := event{kind: evUse, method: closureRead}
			fn, _ := r.Fn.(*ssa.Function)
			for i, b := range r.Bindings {
				if b != ssa.Value(cell) {
					continue
				}
				if fn == nil || i >= len(fn.FreeVars) || closureEnds(fn, fn.FreeVars[i], t.key, owns) {
					e = event{kind: evHandoff}
				}
			}
			t.set(r, e)
		default:
			// The cell's address goes elsewhere: the handle with it.
			t.set(r, event{kind: evHandoff})
		}
	}
}

// closureEnds says whether a closure frees, or hands on, the handle it
// captures as fv.
func closureEnds(fn *ssa.Function, fv *ssa.FreeVar, key string, owns ownsLookup) bool {
	sub := &tracked{fn: fn, key: key, valid: map[ssa.Value]bool{}, aliases: map[ssa.Value]bool{},
		events: map[ssa.Instruction]event{}, derived: map[ssa.Value]ssa.Instruction{}}
	for _, r := range *fv.Referrers() {
		switch r := r.(type) {
		case *ssa.UnOp:
			if r.Op == token.MUL {
				sub.aliases[r] = true
			}
		case *ssa.DebugRef:
		default:
			// Stored to, or captured again by a nested closure: not followed.
			return true
		}
	}
	sub.follow(owns)
	for _, e := range sub.events {
		if e.kind.ends() {
			return true
		}
	}
	return false
}

// storedOnce says whether a cell holds one value for its whole life.
func storedOnce(cell *ssa.Alloc) bool {
	n := 0
	for _, r := range *cell.Referrers() {
		if st, ok := r.(*ssa.Store); ok && st.Addr == ssa.Value(cell) {
			n++
		}
	}
	return n == 1
}

// loadsAfter are the loads of st's cell that follow st in its block before
// anything else is stored there: they read what st stored.
func loadsAfter(st *ssa.Store) []ssa.Value {
	var out []ssa.Value
	for _, instr := range st.Block().Instrs[indexIn(st)+1:] {
		switch in := instr.(type) {
		case *ssa.Store:
			if in.Addr == st.Addr {
				return out
			}
		case *ssa.UnOp:
			if in.Op == token.MUL && in.X == st.Addr {
				out = append(out, in)
			}
		}
	}
	return out
}

func loads(cell *ssa.Alloc) []ssa.Value {
	var out []ssa.Value
	for _, r := range *cell.Referrers() {
		if l, ok := r.(*ssa.UnOp); ok && l.Op == token.MUL {
			out = append(out, l)
		}
	}
	return out
}

// set records what instr does, keeping the strongest meaning when one
// instruction uses the handle twice.
func (t *tracked) set(instr ssa.Instruction, e event) {
	if old, ok := t.events[instr]; ok && old.kind.ends() {
		return
	}
	t.events[instr] = e
}

// call classifies a call, defer or go statement that takes v.
func (t *tracked) call(v ssa.Value, instr ssa.Instruction, owns ownsLookup, addAlias func(ssa.Value), addDerived func(ssa.Value, ssa.Instruction)) {
	common := instr.(ssa.CallInstruction).Common()
	_, deferred := instr.(*ssa.Defer)
	if _, ok := instr.(*ssa.Go); ok {
		t.set(instr, event{kind: evHandoff})
		return
	}
	if common.IsInvoke() {
		t.set(instr, event{kind: evHandoff})
		return
	}
	if _, ok := common.Value.(*ssa.Builtin); ok {
		t.set(instr, event{kind: evUse})
		return
	}
	callee := common.StaticCallee()
	if callee == nil {
		// A call through a function value: ownership cannot be seen.
		t.set(instr, event{kind: evHandoff})
		return
	}
	obj, _ := callee.Object().(*types.Func)
	if obj == nil {
		if o := callee.Origin(); o != nil {
			obj, _ = o.Object().(*types.Func)
		}
	}
	if obj == nil {
		t.set(instr, event{kind: evHandoff})
		return
	}
	sig := obj.Type().(*types.Signature)
	fk := funcKey(obj)
	call, _ := instr.(*ssa.Call)
	for i, arg := range common.Args {
		if arg != v {
			continue
		}
		if sig.Recv() != nil && i == 0 && fk != "" {
			name := obj.Name()
			switch {
			case consumers[name]:
				switch {
				case deferred:
					t.set(instr, event{kind: evDeferred, method: name})
				case freers[name]:
					t.set(instr, event{kind: evFree, method: name})
				default:
					t.set(instr, event{kind: evConsume, method: name})
				}
			case sharers[name]:
				t.set(instr, event{kind: evShare, method: name})
			case resetters[fk]:
				t.set(instr, event{kind: evUse, method: name})
				t.resets = append(t.resets, instr)
			case accessors[fk] == aliasOf && call != nil:
				addAlias(call)
				t.set(instr, event{kind: evUse, method: name})
			case derivers[fk] && call != nil:
				addDerived(firstResult(call), instr)
				t.set(instr, event{kind: evUse, method: name})
			default:
				t.set(instr, event{kind: evUse, method: name})
			}
			continue
		}
		param := i
		if sig.Recv() != nil {
			param--
		}
		switch {
		case derivers[fk] && param == 0 && call != nil:
			addDerived(firstResult(call), instr)
			t.set(instr, event{kind: evUse})
		case containsInt(takers[fk], param) || containsInt(owns(obj), param):
			t.set(instr, event{kind: evHandoff})
		default:
			t.set(instr, event{kind: evUse})
		}
	}
}

// firstResult is a call's value, or its first result when it has several.
func firstResult(call *ssa.Call) ssa.Value {
	if _, ok := call.Type().(*types.Tuple); !ok {
		return call
	}
	return extract(call, 0)
}

func extract(call *ssa.Call, index int) ssa.Value {
	refs := call.Referrers()
	if refs == nil {
		return nil
	}
	for _, r := range *refs {
		if e, ok := r.(*ssa.Extract); ok && e.Index == index {
			return e
		}
	}
	return nil
}

func containsInt(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func isNilCompare(b *ssa.BinOp) bool {
	if b.Op != token.EQL && b.Op != token.NEQ {
		return false
	}
	return isNil(b.X) || isNil(b.Y)
}

func isNil(v ssa.Value) bool {
	c, ok := v.(*ssa.Const)
	return ok && c.IsNil()
}

// invalidBranch says whether successor succ of an If on cond is a path on
// which the handle is nil, so nothing is owed: the constructor failed.
func invalidBranch(cond ssa.Value, succ int, valid, aliases map[ssa.Value]bool) bool {
	switch c := cond.(type) {
	case *ssa.BinOp:
		if !isNilCompare(c) {
			return false
		}
		other := c.X
		if isNil(other) {
			other = c.Y
		}
		if !valid[other] && !aliases[other] {
			return false
		}
		// "err != nil" or "b == nil" is true on the invalid path.
		nilWhenTrue := (c.Op == token.NEQ) == valid[other]
		if nilWhenTrue {
			return succ == 0
		}
		return succ == 1
	case *ssa.UnOp:
		if c.Op == token.NOT {
			return invalidBranch(c.X, 1-succ, valid, aliases)
		}
	case *ssa.Call:
		// errors.Is(err, target) is true only when err is not nil.
		if f := c.Call.StaticCallee(); f != nil && f.Pkg != nil && f.Pkg.Pkg.Path() == "errors" &&
			(f.Name() == "Is" || f.Name() == "As") && len(c.Call.Args) > 0 && valid[c.Call.Args[0]] {
			return succ == 0
		}
	default:
		if valid[cond] && isBool(cond.Type()) {
			return succ == 1
		}
	}
	return false
}

// neverTaken says whether successor succ of an If on cond is never taken
// because cond is constant: "for range 3" compares 0 < 3 first.
func neverTaken(cond ssa.Value, succ int) bool {
	var v constant.Value
	switch c := cond.(type) {
	case *ssa.Const:
		v = c.Value
	case *ssa.BinOp:
		x, ok1 := c.X.(*ssa.Const)
		y, ok2 := c.Y.(*ssa.Const)
		if !ok1 || !ok2 || x.Value == nil || y.Value == nil {
			return false
		}
		switch c.Op {
		case token.EQL, token.NEQ, token.LSS, token.LEQ, token.GTR, token.GEQ:
			v = constant.MakeBool(constant.Compare(x.Value, c.Op, y.Value))
		}
	}
	if v == nil || v.Kind() != constant.Bool {
		return false
	}
	return constant.BoolVal(v) == (succ == 1)
}

func isBool(t types.Type) bool {
	b, ok := t.Underlying().(*types.Basic)
	return ok && b.Kind() == types.Bool
}

// leakPath looks for a path from the handle's making to a return (or back to
// its making, in a loop) on which nothing frees it or hands it on. It returns
// the instruction reached (a Return, or the constructor's call again) and
// the If instructions on the way, with the branch taken; nil when every path
// is covered.
func (t *tracked) leakPath() (end ssa.Instruction, path []branch) {
	type item struct {
		b     *ssa.BasicBlock
		start int
		path  []branch
	}
	var start item
	if t.def != nil {
		start = item{b: t.def.Block(), start: indexIn(t.def) + 1}
	} else {
		start = item{b: t.fn.Blocks[0]}
	}
	visited := map[*ssa.BasicBlock]bool{}
	stack := []item{start}
	for len(stack) > 0 {
		it := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
	instrs:
		for _, instr := range it.b.Instrs[it.start:] {
			if t.def != nil && instr == ssa.Instruction(t.def) {
				return instr, it.path
			}
			if e, ok := t.events[instr]; ok && e.kind.ends() {
				break
			}
			switch in := instr.(type) {
			case *ssa.Return:
				return in, it.path
			case *ssa.Panic:
				break instrs
			case *ssa.Call:
				if noReturn(in) || requiresFailure(in, t.valid) {
					break instrs
				}
			case *ssa.If:
				for i, s := range it.b.Succs {
					if invalidBranch(in.Cond, i, t.valid, t.aliases) || neverTaken(in.Cond, i) || visited[s] {
						continue
					}
					visited[s] = true
					p := append(append([]branch(nil), it.path...), branch{in, i == 0})
					stack = append(stack, item{b: s, path: p})
				}
			case *ssa.Jump:
				if s := it.b.Succs[0]; !visited[s] {
					visited[s] = true
					stack = append(stack, item{b: s, path: it.path})
				}
			}
		}
	}
	return nil, nil
}

type branch struct {
	at    *ssa.If
	taken bool
}

func indexIn(instr ssa.Instruction) int {
	for i, x := range instr.Block().Instrs {
		if x == instr {
			return i
		}
	}
	return -1
}

// reachable calls visit for each instruction that can run after from,
// stopping where visit returns false and at the handle's making (a new
// handle). When from returns an error, the branches where that error is not
// nil are skipped: the call failed and did nothing.
func (t *tracked) reachable(from ssa.Instruction, inclusive bool, visit func(ssa.Instruction) bool) {
	failed := map[ssa.Value]bool{}
	if c, ok := from.(*ssa.Call); ok {
		if tup, ok := c.Type().(*types.Tuple); ok && tup.Len() > 0 && isErrorOrBool(tup.At(tup.Len()-1).Type()) {
			if e := extract(c, tup.Len()-1); e != nil {
				failed[e] = true
			}
		} else if isErrorOrBool(c.Type()) && !isBool(c.Type()) {
			failed[c] = true
		}
	}
	// other are the aliases and derived values that hold another handle on
	// the path walked: a phi of the handle (a variable in a loop) that came
	// from another constructor, and what was computed from one.
	type item struct {
		b     *ssa.BasicBlock
		start int
		other map[ssa.Value]bool
	}
	startAt := indexIn(from) + 1
	if inclusive {
		startAt--
	}
	visited := map[*ssa.BasicBlock]map[string]bool{}
	stack := []item{{from.Block(), startAt, nil}}
	for len(stack) > 0 {
		it := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		stop := false
		for _, instr := range it.b.Instrs[it.start:] {
			if t.def != nil && instr == ssa.Instruction(t.def) {
				stop = true
				break
			}
			if t.ofOther(instr, it.other) {
				if v, ok := instr.(ssa.Value); ok {
					it.other = with(it.other, v, true)
					if refs := v.Referrers(); refs != nil {
						for _, r := range *refs {
							if e, ok := r.(*ssa.Extract); ok {
								it.other = with(it.other, e, true)
							}
						}
					}
				}
				continue
			}
			if !visit(instr) {
				stop = true
				break
			}
			if c, ok := instr.(*ssa.Call); ok && (noReturn(c) || requiresFailure(c, failed)) {
				stop = true
				break
			}
		}
		if stop {
			continue
		}
		var cond ssa.Value
		if in, ok := it.b.Instrs[len(it.b.Instrs)-1].(*ssa.If); ok {
			cond = in.Cond
		}
		for i, s := range it.b.Succs {
			if cond != nil && (invalidBranch(cond, i, failed, nil) || neverTaken(cond, i)) {
				continue
			}
			other := t.enter(it.b, s, it.other)
			key := valueNames(other)
			if visited[s] == nil {
				visited[s] = map[string]bool{}
			}
			// A few states per block: more would be a function too
			// tangled to follow, walked as far as it was.
			if visited[s][key] || len(visited[s]) >= 8 {
				continue
			}
			visited[s][key] = true
			stack = append(stack, item{s, 0, other})
		}
	}
}

// mine says whether v holds the handle, or its memory, on a path where the
// values in other hold another.
func (t *tracked) mine(v ssa.Value, other map[ssa.Value]bool) bool {
	if other[v] {
		return false
	}
	_, derived := t.derived[v]
	return t.aliases[v] || derived
}

// enter returns what holds another handle in block to, entered from block
// from: a phi of the handle takes another one where its value on that edge
// is not the handle (the other branch of a loop made a new one), and the
// handle again where it is.
func (t *tracked) enter(from, to *ssa.BasicBlock, other map[ssa.Value]bool) map[ssa.Value]bool {
	edge := -1
	for i, p := range to.Preds {
		if p == from {
			edge = i
			break
		}
	}
	if edge < 0 {
		return other
	}
	for _, instr := range to.Instrs {
		phi, ok := instr.(*ssa.Phi)
		if !ok {
			break
		}
		_, derived := t.derived[phi]
		if !t.aliases[phi] && !derived {
			continue
		}
		other = with(other, phi, !t.mine(phi.Edges[edge], other))
	}
	return other
}

// ofOther says whether instr uses the handle only through values that hold
// another one on this path (a phi is decided at its block's entry).
func (t *tracked) ofOther(instr ssa.Instruction, other map[ssa.Value]bool) bool {
	if len(other) == 0 {
		return false
	}
	if phi, ok := instr.(*ssa.Phi); ok {
		return other[phi]
	}
	n := 0
	for _, op := range instr.Operands(nil) {
		if op == nil || *op == nil {
			continue
		}
		v := *op
		_, derived := t.derived[v]
		if !t.aliases[v] && !derived {
			continue
		}
		if !other[v] {
			return false
		}
		n++
	}
	return n > 0
}

// with returns m with v set to on, copied where it changes (m is shared by
// the paths walked).
func with(m map[ssa.Value]bool, v ssa.Value, on bool) map[ssa.Value]bool {
	if m[v] == on {
		return m
	}
	out := make(map[ssa.Value]bool, len(m)+1)
	for k, x := range m {
		out[k] = x
	}
	if on {
		out[v] = true
	} else {
		delete(out, v)
	}
	return out
}

func valueNames(m map[ssa.Value]bool) string {
	names := make([]string, 0, len(m))
	for v := range m {
		names = append(names, v.Name())
	}
	sort.Strings(names)
	return strings.Join(names, ",")
}

// dominates says whether a runs before b on every path to b.
func dominates(a, b ssa.Instruction) bool {
	if a.Block() == b.Block() {
		return indexIn(a) < indexIn(b)
	}
	return a.Block().Dominates(b.Block())
}

// noReturn says whether a call ends the goroutine or the process (a test's
// Fatal or Skip, log.Fatal, os.Exit, runtime.Goexit), or marks a test
// failed (Error, Errorf): nothing is owed on such a path, where the test has
// failed already and its leak check reports what is left.
func noReturn(c *ssa.Call) bool {
	f := c.Call.StaticCallee()
	if f == nil {
		return false
	}
	obj, _ := f.Object().(*types.Func)
	if obj == nil || obj.Pkg() == nil {
		return false
	}
	name := obj.Name()
	switch obj.Pkg().Path() {
	case "testing":
		switch name {
		case "Fatal", "Fatalf", "FailNow", "Skip", "Skipf", "SkipNow", "Error", "Errorf", "Fail":
			return true
		}
	case "log":
		return strings.HasPrefix(name, "Fatal") || strings.HasPrefix(name, "Panic")
	case "os":
		return name == "Exit"
	case "runtime":
		return name == "Goexit"
	}
	return false
}

// requiresFailure says whether a call goes on only when the handle's
// constructor failed, or with the test failed: testify's require.Error
// (ErrorIs, ErrorAs, ErrorContains, EqualError) on its error, which stops
// the test otherwise, or assert.Error, which fails it; require.False or
// assert.False on a constructor's ok.
func requiresFailure(c *ssa.Call, valid map[ssa.Value]bool) bool {
	f := c.Call.StaticCallee()
	if f == nil || f.Pkg == nil || len(c.Call.Args) < 2 {
		return false
	}
	if p := f.Pkg.Pkg.Path(); p != "github.com/stretchr/testify/require" && p != "github.com/stretchr/testify/assert" {
		return false
	}
	switch strings.TrimSuffix(f.Name(), "f") {
	case "Error", "ErrorIs", "ErrorAs", "ErrorContains", "EqualError":
		return valid[c.Call.Args[1]] && !isBool(c.Call.Args[1].Type())
	case "False":
		// Cache.Get's ok: false, or the test fails.
		return valid[c.Call.Args[1]] && isBool(c.Call.Args[1].Type())
	}
	return false
}
