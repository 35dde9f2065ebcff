package stackutil

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestModulePrefixIsDerived(t *testing.T) {
	assert.Equal(t, "github.com/membridge/membridge/", modulePrefix)
}

// Library frames are found by where their package is, not by a list.
func TestLibraryFrames(t *testing.T) {
	for fn, want := range map[string]bool{
		"github.com/membridge/membridge/native.Alloc":                 true,
		"github.com/membridge/membridge/tracker.Reserve":              true,
		"github.com/membridge/membridge/cuda.(*Context).Alloc":        true,
		"github.com/membridge/membridge/some/new/owner.Make.func1":    true,
		"github.com/membridge/membridge/native.TestAlloc":             false, // an internal test
		"github.com/membridge/membridge/native.TestAlloc.func2":       false,
		"github.com/membridge/membridge/native_test.helper":           false, // an external test package
		"github.com/membridge/membridge/cext/internal/cmem.Malloc":    false, // a test stand-in
		"github.com/membridge/membridge/examples/service.(*S).Handle": false,
		"github.com/membridge/membridgeextra/native.Alloc":            false,
		"main.main": false,
		"github.com/membridge/membridge/native.ExampleArena":            false,
		"github.com/membridge/membridge/native.Testify":                 true, // not a test name
		"github.com/membridge/membridge/tracker/internal/stackutil.Foo": false,
	} {
		assert.Equal(t, want, isLibraryFrame(fn), fn)
	}
}
