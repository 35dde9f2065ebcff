package ownership_test

import (
	"go/types"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/tools/go/packages"
)

// TestStubsMatchTheRealAPI keeps the testdata stubs honest: every exported
// function and method they declare exists in the real package with the same
// signature, so a test that passes against a stub describes the real API.
func TestStubsMatchTheRealAPI(t *testing.T) {
	if testing.Short() {
		t.Skip("loads the real packages with cgo")
	}
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command")
	}
	stubDir, err := filepath.Abs("testdata")
	require.NoError(t, err)
	names := []string{"native", "cuda", "handle", "cache", "cext"}
	var paths []string
	for _, n := range names {
		paths = append(paths, "github.com/membridge/membridge/"+n)
	}
	mode := packages.NeedName | packages.NeedTypes | packages.NeedImports | packages.NeedDeps
	stubs, err := packages.Load(&packages.Config{Mode: mode, Dir: stubDir,
		Env: append(environ(), "GOPATH="+stubDir, "GO111MODULE=off", "GOWORK=off")}, paths...)
	require.NoError(t, err)
	real, err := packages.Load(&packages.Config{Mode: mode}, paths...)
	require.NoError(t, err)
	require.Len(t, stubs, len(paths))
	require.Len(t, real, len(paths))
	qual := func(p *types.Package) string { return p.Path() }
	for i := range paths {
		require.Empty(t, stubs[i].Errors, "stub %s", paths[i])
		require.Empty(t, real[i].Errors, "real %s", paths[i])
		sigs := map[string]string{}
		eachFunc(real[i].Types, func(name string, f *types.Func) {
			sigs[name] = types.TypeString(f.Type(), qual)
		})
		n := 0
		eachFunc(stubs[i].Types, func(name string, f *types.Func) {
			n++
			want, ok := sigs[name]
			if !ok {
				t.Errorf("%s: the stub declares %s, which the real package lacks", paths[i], name)
				return
			}
			if got := types.TypeString(f.Type(), qual); got != want {
				t.Errorf("%s.%s: stub %s, real %s", paths[i], name, got, want)
			}
		})
		require.NotZero(t, n, "stub %s declares nothing", paths[i])
	}
}

// eachFunc calls fn for each exported function and method of pkg.
func eachFunc(pkg *types.Package, fn func(name string, f *types.Func)) {
	scope := pkg.Scope()
	for _, name := range scope.Names() {
		switch obj := scope.Lookup(name).(type) {
		case *types.Func:
			if obj.Exported() {
				fn(name, obj)
			}
		case *types.TypeName:
			named, ok := obj.Type().(*types.Named)
			if !ok || !obj.Exported() {
				continue
			}
			for m := range named.Methods() {
				if m.Exported() {
					fn(name+"."+m.Name(), m)
				}
			}
		}
	}
}
