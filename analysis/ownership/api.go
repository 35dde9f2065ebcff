package ownership

import (
	"go/types"
	"strings"
)

// modulePath is the import path prefix of the membridge packages whose
// handles the analyzers follow.
const modulePath = "github.com/membridge/membridge/"

// handleType describes a type whose values own memory (or a share of it)
// until a method in consumers ends that ownership.
type handleType struct {
	// freer is the method a suggested fix defers.
	freer string
}

// handleTypes are the owning types, by package (relative to modulePath) and
// name. A function or method of a membridge package that returns a pointer to
// one of them, as its only result or before an error or a bool, makes a new
// handle, unless it is listed in accessors or borrowers.
var handleTypes = map[string]handleType{
	"native.Buffer":     {freer: "Free"},
	"native.Slice":      {freer: "Free"},
	"native.View":       {freer: "Release"},
	"native.Arena":      {freer: "Free"},
	"cuda.DeviceBuffer": {freer: "Free"},
	"cuda.DeviceSlice":  {freer: "Free"},
	"cuda.PinnedBuffer": {freer: "Free"},
	"cuda.Context":      {freer: "Close"},
	"handle.Handle":     {freer: "Release"},
	"handle.Weak":       {freer: "Release"},
	"cache.Cache":       {freer: "Close"},
	"batch.Result":      {freer: "Free"},
}

// consumers are the methods that end a handle's ownership: after one of
// them, the handle may not be used (Err excepted) and may not be freed again.
var consumers = map[string]bool{
	"Free":    true,
	"Close":   true,
	"Release": true,
	"Move":    true,
	"HandToC": true,
}

// freers are the consumers that free: a second one on the same handle is a
// double free, and one on a borrowed handle other than Release is a misuse.
var freers = map[string]bool{
	"Free":    true,
	"Close":   true,
	"Release": true,
}

// sharers are the methods that make a handle's ownership shared: each holder
// calls Release, so several Releases on one handle are no double free.
var sharers = map[string]bool{"Retain": true}

// afterFree are the methods that remain valid on a consumed handle.
var afterFree = map[string]bool{"Err": true}

// accessors are methods that return a handle they do not make: the same
// handle under another type (aliases), or one owned elsewhere.
var accessors = map[string]accessor{
	"native.Slice.Buffer":       aliasOf,
	"cuda.DeviceSlice.Buffer":   aliasOf,
	"cuda.DeviceBuffer.Context": notOwned,
	"cuda.Stream.Context":       notOwned,
}

type accessor int

const (
	aliasOf  accessor = iota + 1 // the result is the receiver
	notOwned                     // the result belongs to someone else
)

// borrowers make a new reference to a handle someone else owns: it must be
// given back with Release, never freed.
var borrowers = map[string]bool{"cache.Cache.Get": true}

// derivers give memory of a handle as a Go slice or pointer (or a device
// address): valid only while the handle is alive and not freed. For the
// functions (no receiver), the handle is the first argument.
var derivers = map[string]bool{
	"native.Buffer.Bytes":         true,
	"native.Buffer.Ptr":           true,
	"native.Slice.Values":         true,
	"native.Slice.Ptr":            true,
	"native.View.Bytes":           true,
	"native.View.Ptr":             true,
	"native.Arena.Alloc":          true,
	"native.Arena.TryAlloc":       true,
	"native.MakeSliceIn":          true,
	"native.NewIn":                true,
	"cuda.DeviceBuffer.DevicePtr": true,
	"cuda.PinnedBuffer.Bytes":     true,
	"cuda.PinnedValues":           true,
	"handle.Handle.Pointer":       true,
	"handle.Weak.Pointer":         true,
	"batch.Result.Records":        true,
}

// resetters end the memory a handle gave out (its derived slices and
// pointers) while the handle lives on.
var resetters = map[string]bool{"native.Arena.Reset": true}

// takers are membridge functions that take ownership of an argument (by
// index, the receiver not counted).
var takers = map[string][]int{
	"cext.HandToC":    {0},
	"cache.Cache.Put": {1},
}

// elementTypeFuncs are the generic functions whose type argument is an
// element type stored in C or device memory, which must hold no Go pointers.
var elementTypeFuncs = map[string]bool{
	"native.AllocSliceZeroed": true,
	"native.AllocSlice":       true,
	"native.MakeSliceIn":      true,
	"native.NewIn":            true,
	"cuda.AllocSlice":         true,
	"cuda.AllocSliceOn":       true,
	"cuda.AllocSliceZeroed":   true,
	"cuda.CloneHtoD":          true,
	"cuda.CloneHtoDOn":        true,
	"cuda.CloneDtoD":          true,
	"cuda.CloneDtoH":          true,
	"cuda.CopyHtoD":           true,
	"cuda.CopyHtoDOn":         true,
	"cuda.CopyDtoH":           true,
	"cuda.CopyDtoHOn":         true,
	"cuda.PinnedValues":       true,
}

// localPkg returns the package path of pkg relative to modulePath, or "" for
// a package outside membridge's own.
func localPkg(pkg *types.Package) string {
	if pkg == nil {
		return ""
	}
	rel, ok := strings.CutPrefix(pkg.Path(), modulePath)
	if !ok || strings.Contains(rel, "/") {
		return ""
	}
	return rel
}

// typeKey names a named type as "pkg.Name", or "" when it is not a membridge
// type.
func typeKey(t types.Type) string {
	n, ok := types.Unalias(t).(*types.Named)
	if !ok {
		return ""
	}
	obj := n.Origin().Obj()
	p := localPkg(obj.Pkg())
	if p == "" {
		return ""
	}
	return p + "." + obj.Name()
}

// handleOf returns the key of the handle type t points to, or "".
func handleOf(t types.Type) string {
	p, ok := types.Unalias(t).(*types.Pointer)
	if !ok {
		return ""
	}
	k := typeKey(p.Elem())
	if _, ok := handleTypes[k]; !ok {
		return ""
	}
	return k
}

// funcKey names a function "pkg.Name" or a method "pkg.Type.Name", or ""
// when it is not one of membridge's.
func funcKey(f *types.Func) string {
	if f == nil {
		return ""
	}
	f = f.Origin()
	sig := f.Type().(*types.Signature)
	if recv := sig.Recv(); recv != nil {
		t := recv.Type()
		if p, ok := types.Unalias(t).(*types.Pointer); ok {
			t = p.Elem()
		}
		k := typeKey(t)
		if k == "" {
			return ""
		}
		return k + "." + f.Name()
	}
	p := localPkg(f.Pkg())
	if p == "" {
		return ""
	}
	return p + "." + f.Name()
}

// constructed says what a call to f makes: the handle type key, and whether
// the result is a borrowed reference. ok is false when f makes no handle.
func constructed(f *types.Func) (key string, borrowed, ok bool) {
	fk := funcKey(f)
	if fk == "" || !f.Exported() {
		return "", false, false
	}
	if _, ok := accessors[fk]; ok {
		return "", false, false
	}
	res := f.Type().(*types.Signature).Results()
	if res.Len() == 0 || res.Len() > 2 {
		return "", false, false
	}
	if res.Len() == 2 && !isErrorOrBool(res.At(1).Type()) {
		return "", false, false
	}
	k := handleOf(res.At(0).Type())
	if k == "" {
		return "", false, false
	}
	return k, borrowers[fk], true
}

func isErrorOrBool(t types.Type) bool {
	if b, ok := t.Underlying().(*types.Basic); ok && b.Kind() == types.Bool {
		return true
	}
	return types.Identical(t, types.Universe.Lookup("error").Type())
}
