package cext_test

import (
	"testing"

	"github.com/membridge/membridge/cext"
	"github.com/membridge/membridge/cext/leakcheck"
	"github.com/membridge/membridge/internal/errprefix/errprefixtest"
	"github.com/membridge/membridge/native"
	"github.com/stretchr/testify/require"
)

// Every error chain the package returns starts with its prefix and carries
// it once; an error of package native it passes on keeps native's prefix,
// once, after the context cext adds.
func TestErrorsHaveOnePrefix(t *testing.T) {
	defer leakcheck.Check(t)
	var errs errprefixtest.Errors
	add, second := errs.Add, errs.Second

	second(cext.Adopt(nil, "x", nil))
	second(cext.Alloc(t.Name(), -1))

	b, err := cext.Alloc(t.Name(), 16)
	require.NoError(t, err)
	add(cext.Free(b.Ptr())) // owned by a Go handle
	require.NoError(t, b.Free())
	second(cext.HandToC(b))

	g, err := native.Alloc(t.Name(), 16)
	require.NoError(t, err)
	second(cext.HandToC(g)) // not a membridge block
	add(cext.Free(g.Ptr()))
	require.NoError(t, g.Free())

	errprefixtest.Check(t, "cext: ", errs, "native: ")
}
