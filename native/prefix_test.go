package native

import (
	"context"
	"reflect"
	"testing"

	"github.com/membridge/membridge/cext/leakcheck"
	"github.com/membridge/membridge/internal/errprefix/errprefixtest"
	"github.com/membridge/membridge/internal/testkit"
	"github.com/membridge/membridge/tracker"
	"github.com/stretchr/testify/require"
)

// Every error chain the package returns starts with its prefix and carries
// it once: inner layers add context only, the package's own sentinels carry
// no prefix, and the ledger's keep their "membridge:" text.
func TestErrorsHaveOnePrefix(t *testing.T) {
	defer leakcheck.Check(t)
	tag := testkit.UniqueTag(t)
	var errs errprefixtest.Errors
	add, second := errs.Add, errs.Second

	second(Alloc(tag, -1))
	second(Alloc(tag, 8, Align(3)))
	//membridge:ignore gopointer the test provokes this misuse on purpose, to read the error it returns
	second(AllocSlice[*int](tag, 1))
	second(AllocSliceZeroed[int64](tag, -1))
	second(Adopt(tag, nil, 8, FreeDeleter()))
	add(CheckPointerFree(reflect.TypeFor[struct{ p *int }]()))

	b, err := Alloc(tag, 16)
	require.NoError(t, err)
	v, err := b.View(0, 8)
	require.NoError(t, err)
	add(b.Free())
	//membridge:ignore useafterfree the test provokes this misuse on purpose, to read the error it returns
	second(b.ViewMut(0, 8))
	second(b.HandToC())
	//membridge:ignore useafterfree the test provokes this misuse on purpose, to read the error it returns
	second(b.View(8, 16))
	second(Adopt(tag, b.Ptr(), 16, FreeDeleter()))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	//membridge:ignore doublefree the test provokes this misuse on purpose, to read the error it returns
	add(b.Free(WaitForBorrows(ctx)))
	//membridge:ignore doublefree the test provokes this misuse on purpose, to read the error it returns
	require.NoError(t, b.Free(RevokeBorrows()))
	add(v.Err())
	//membridge:ignore doublefree the test provokes this misuse on purpose, to read the error it returns
	add(b.Free())
	add(b.Err())
	require.NoError(t, v.Release())
	//membridge:ignore doublefree the test provokes this misuse on purpose, to read the error it returns
	add(v.Release())
	second(b.Move())

	f, err := AllocZeroed(tag, 8)
	require.NoError(t, err)
	require.NoError(t, f.Freeze())
	second(f.ViewMut(0, 8))
	require.NoError(t, f.Free())

	a := NewArena(tag, 0)
	second(a.Alloc(-1, 8))
	second(a.Alloc(8, 3))
	//membridge:ignore gopointer the test provokes this misuse on purpose, to read the error it returns
	second(NewIn[*int](a))
	require.NoError(t, a.Free())
	//membridge:ignore useafterfree the test provokes this misuse on purpose, to read the error it returns
	second(a.Alloc(8, 8))
	//membridge:ignore doublefree the test provokes this misuse on purpose, to read the error it returns
	add(a.Free())
	//membridge:ignore useafterfree the test provokes this misuse on purpose, to read the error it returns
	add(a.Check(0))

	var zero Buffer
	add(zero.Free())
	add((&View{}).Release())
	add((&Slice[int]{}).Free())
	add((&Arena{}).Free())

	tracker.SetTagLimit(tag, 1)
	second(Alloc(tag, 100))
	tracker.SetTagLimit(tag, 0)

	errprefixtest.Check(t, "native: ", errs)
}
