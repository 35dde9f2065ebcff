package ownership

import (
	"fmt"
	"go/types"

	"golang.org/x/tools/go/analysis"
)

func runGoPointer(pass *analysis.Pass) (any, error) {
	res := pass.ResultOf[Analyzer].(*Result)
	for id, inst := range pass.TypesInfo.Instances {
		f, ok := pass.TypesInfo.Uses[id].(*types.Func)
		if !ok || !elementTypeFuncs[funcKey(f)] {
			continue
		}
		for i := 0; i < inst.TypeArgs.Len(); i++ {
			ta := inst.TypeArgs.At(i)
			qual := types.RelativeTo(pass.Pkg)
			name := types.TypeString(ta, qual)
			path, kind := findPointer(ta, name, map[types.Type]bool{})
			if path == "" || res.dirs.ignored(pass.Fset, CheckGoPointer, id.Pos()) {
				continue
			}
			pass.Report(analysis.Diagnostic{
				Pos:      id.Pos(),
				Category: CheckGoPointer,
				Message: fmt.Sprintf("gopointer: %s[%s]: %s holds a Go pointer at %s (a %s), and cgo forbids Go pointers in C memory; %s refuses it at run time with ErrPointerType",
					funcKey(f), name, name, path, kind, f.Name()),
			})
		}
	}
	return nil, nil
}

// findPointer returns where t holds a Go pointer and what kind of value it
// is there, as native.CheckPointerFree does at run time; "" when it holds
// none. Type parameters are left to their instantiations.
func findPointer(t types.Type, path string, seen map[types.Type]bool) (string, string) {
	if seen[t] {
		return "", ""
	}
	seen[t] = true
	switch u := t.Underlying().(type) {
	case *types.Basic:
		switch u.Kind() {
		case types.String, types.UntypedString:
			return path, "string"
		case types.UnsafePointer:
			return path, "unsafe.Pointer"
		}
	case *types.Pointer:
		return path, "pointer"
	case *types.Slice:
		return path, "slice"
	case *types.Map:
		return path, "map"
	case *types.Chan:
		return path, "chan"
	case *types.Signature:
		return path, "func"
	case *types.Interface:
		if _, ok := t.(*types.TypeParam); ok {
			return "", ""
		}
		return path, "interface"
	case *types.Array:
		if u.Len() == 0 {
			return "", ""
		}
		return findPointer(u.Elem(), path+"[0]", seen)
	case *types.Struct:
		for i := 0; i < u.NumFields(); i++ {
			f := u.Field(i)
			if p, k := findPointer(f.Type(), path+"."+f.Name(), seen); p != "" {
				return p, k
			}
		}
	}
	return "", ""
}
