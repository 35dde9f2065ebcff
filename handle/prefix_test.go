package handle_test

import (
	"testing"

	"github.com/membridge/membridge/cext/leakcheck"
	"github.com/membridge/membridge/handle"
	"github.com/membridge/membridge/internal/errprefix/errprefixtest"
	"github.com/stretchr/testify/require"
)

// Every error chain the package returns starts with its prefix and carries
// it once: the lookups add context only, and the sentinels carry no prefix
// of their own.
func TestErrorsHaveOnePrefix(t *testing.T) {
	defer leakcheck.Check(t)
	var errs errprefixtest.Errors
	add, second := errs.Add, errs.Second

	second(handle.New(t.Name(), nil))
	second(handle.NewWeak[payload](t.Name(), nil))
	add((&handle.Handle{}).Release())
	add((&handle.Weak[payload]{}).Release())
	second((&handle.Weak[payload]{}).Value())
	second(handle.ValueOf(1))
	second(handle.WeakValueOf[payload](1))

	h, err := handle.New(t.Name(), &payload{"strong"})
	require.NoError(t, err)
	second(handle.WeakValue[payload](h.Pointer()))
	require.NoError(t, h.Release())
	//membridge:ignore doublefree the test provokes this misuse on purpose, to read the error it returns
	add(h.Release())
	//membridge:ignore useafterfree the test provokes this misuse on purpose, to read the error it returns
	second(handle.Value(h.Pointer()))

	v := &payload{"weak"}
	w, err := handle.NewWeak(t.Name(), v)
	require.NoError(t, err)
	require.NoError(t, w.Release())
	//membridge:ignore useafterfree the test provokes this misuse on purpose, to read the error it returns
	second(w.Value())
	//membridge:ignore doublefree the test provokes this misuse on purpose, to read the error it returns
	add(w.Release())

	errprefixtest.Check(t, "handle: ", errs)
}
