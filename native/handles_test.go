package native

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/membridge/membridge/cext/leakcheck"
	"github.com/membridge/membridge/internal/testkit"
	"github.com/membridge/membridge/internal/zerovalue"
	"github.com/membridge/membridge/tracker"
)

// Every exported method on a nil pointer and on a zero value of each
// handle type returns an error wrapping ErrInvalidArgument or is a
// documented no-op; none panics and none allocates.
func TestZeroAndNilHandles(t *testing.T) {
	defer leakcheck.Check(t)
	before := tracker.TagStats("").AllocatedCount // a zero handle has no tag
	for _, c := range []struct {
		name string
		recv any
		noop []string
	}{
		{"nil *Buffer", (*Buffer)(nil), []string{"Free", "Close", "Release"}},
		{"zero Buffer", &Buffer{}, nil},
		{"nil *View", (*View)(nil), nil},
		{"zero View", &View{}, nil},
		{"nil *Slice", (*Slice[int32])(nil), []string{"Free", "Close"}},
		{"zero Slice", &Slice[int32]{}, nil},
		{"nil *Arena", (*Arena)(nil), []string{"Free"}},
		{"zero Arena", &Arena{}, nil},
	} {
		t.Run(c.name, func(t *testing.T) { zerovalue.Check(t, c.name, c.recv, ErrInvalidArgument, c.noop...) })
	}
	for _, a := range []*Arena{nil, {}} {
		_, err := NewIn[int64](a)
		assert.ErrorIs(t, err, ErrInvalidArgument, "NewIn in %#v", a)
		_, err = MakeSliceIn[int64](a, 4)
		assert.ErrorIs(t, err, ErrInvalidArgument, "MakeSliceIn in %#v", a)
		_, err = a.Alloc(64, 8)
		assert.ErrorIs(t, err, ErrInvalidArgument, "Alloc in %#v", a)
	}
	assert.Equal(t, before, tracker.TagStats("").AllocatedCount, "a nil or zero handle allocated")
}

// A zero Buffer says what it is, rather than dereferencing its nil
// record.
func TestZeroBufferSaysWhatItIs(t *testing.T) {
	var b Buffer
	err := b.Free()
	require.ErrorIs(t, err, ErrInvalidArgument)
	assert.Contains(t, err.Error(), "zero Buffer")
	assert.Nil(t, b.Bytes())
	assert.Equal(t, "", b.Tag())
	var nb *Buffer
	assert.ErrorIs(t, nb.Err(), ErrInvalidArgument)
	assert.NoError(t, nb.Release())
}

// shallowCopy copies *p the way cp := *p does, through reflection so that
// go vet's copylocks check does not stop the test from doing what it
// tests.
func shallowCopy[T any](p *T) *T {
	c := reflect.New(reflect.TypeFor[T]())
	c.Elem().Set(reflect.ValueOf(p).Elem())
	return c.Interface().(*T)
}

// A copy of a View borrows nothing: releasing through it fails and leaves
// the buffer's count alone, whichever of the two is released first.
// Counted twice, cp.Release after v.Release would take the share count
// below zero, and the buffer would refuse Free for ever.
func TestViewCopiesDoNotCount(t *testing.T) {
	defer leakcheck.Check(t)
	for _, exclusive := range []bool{false, true} {
		t.Run(fmt.Sprintf("exclusive=%v", exclusive), func(t *testing.T) {
			b, err := Alloc(testkit.UniqueTag(t), 16)
			require.NoError(t, err)
			view := b.View
			if exclusive {
				view = b.ViewMut
			}
			v, err := view(0, 8)
			require.NoError(t, err)
			cp := shallowCopy(v)
			require.NoError(t, v.Release())
			assert.ErrorIs(t, cp.Release(), ErrInvalidArgument)
			assert.ErrorIs(t, cp.Err(), ErrInvalidArgument)
			assert.Panics(t, func() { cp.Bytes() })
			assert.ErrorIs(t, v.Release(), ErrFreed)
			assert.Equal(t, 1, b.Refs())

			v, err = view(0, 8) // the copy released first: the view still holds
			require.NoError(t, err)
			cp = shallowCopy(v)
			assert.ErrorIs(t, cp.Release(), ErrInvalidArgument)
			assert.ErrorIs(t, b.Free(), ErrBorrowed)
			require.NoError(t, v.Release())
			require.NoError(t, b.Free())
		})
	}
}

// Of two concurrent Releases of one view exactly one ends the borrow.
func TestViewConcurrentReleaseCountsOnce(t *testing.T) {
	defer leakcheck.Check(t)
	b, err := Alloc(testkit.UniqueTag(t), 16)
	require.NoError(t, err)
	for range 200 {
		keep, err := b.View(0, 1) // a second view, which must stay counted
		require.NoError(t, err)
		v, err := b.View(0, 8) //membridge:ignore leak released by one of the goroutines below
		require.NoError(t, err)
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = v.Release()
			}()
		}
		wg.Wait()
		require.True(t, (errs[0] == nil) != (errs[1] == nil), "both or neither released: %v", errs)
		require.ErrorIs(t, b.Free(), ErrBorrowed, "the other view's share was taken")
		require.NoError(t, keep.Release())
	}
	require.NoError(t, b.Free())
}

// A copy of a Buffer owns nothing: Free through it fails, even after the
// original was freed and its record reused by another allocation, which a
// copy's Free would otherwise end (freeing the old block a second time).
func TestBufferCopiesOwnNothing(t *testing.T) {
	defer leakcheck.Check(t)
	tag := testkit.UniqueTag(t)
	b, err := Alloc(tag, 32)
	require.NoError(t, err)
	cp := shallowCopy(b)
	for name, f := range map[string]func() error{
		"Free":          func() error { return cp.Free() },
		"Release":       cp.Release,
		"Retain":        cp.Retain,
		"Freeze":        cp.Freeze,
		"Move":          func() error { _, err := cp.Move(); return err }, //membridge:ignore leak a copy's Move fails
		"HandToC":       func() error { _, err := cp.HandToC(); return err },
		"View":          func() error { _, err := cp.View(0, 1); return err }, //membridge:ignore leak a copy's View fails
		"Free revoking": func() error { return cp.Free(RevokeBorrows()) },
		"Free waiting":  func() error { return cp.Free(WaitForBorrows(context.Background())) },
	} {
		err := f()
		require.ErrorIs(t, err, ErrInvalidArgument, name)
		assert.Contains(t, err.Error(), "copy of a Buffer", name)
	}
	assert.Panics(t, func() { cp.Bytes() })
	require.NoError(t, b.Err(), "the original was changed through its copy")
	require.NoError(t, b.Free())
	others := make([]*Buffer, 64) // likely to reuse b's record
	for i := range others {
		others[i], err = Alloc(tag, 32)
		require.NoError(t, err)
	}
	require.ErrorIs(t, cp.Free(), ErrInvalidArgument)
	for _, o := range others {
		require.NoError(t, o.Free(), "an allocation was ended through a stale copy")
	}
}

// Copies of a Slice share its one buffer handle: a Free through either
// frees once and the other sees it.
func TestSliceCopiesShareTheHandle(t *testing.T) {
	defer leakcheck.Check(t)
	s, err := AllocSliceZeroed[int64](testkit.UniqueTag(t), 4)
	require.NoError(t, err)
	cp := *s
	require.NoError(t, cp.Free())
	assert.ErrorIs(t, s.Free(), ErrFreed)
	assert.ErrorIs(t, cp.Free(), ErrFreed)
	assert.Panics(t, func() { s.Values() })
}

// A copy of an Arena owns nothing: it cannot give the chunks back, take
// new ones or reset the original's.
func TestArenaCopiesOwnNothing(t *testing.T) {
	defer leakcheck.Check(t)
	a := NewArena(testkit.UniqueTag(t), 4096)
	p, err := a.Alloc(64, 8)
	require.NoError(t, err)
	*(*int64)(p) = 42
	cp := shallowCopy(a)
	assert.ErrorIs(t, cp.Free(), ErrInvalidArgument)
	assert.Panics(t, cp.Reset)
	_, err = cp.Alloc(8192, 8) // needs a chunk of its own
	assert.ErrorIs(t, err, ErrInvalidArgument)
	assert.ErrorIs(t, cp.Check(a.Generation()), ErrInvalidArgument)
	assert.Equal(t, int64(42), *(*int64)(p), "the original's memory changed")
	assert.Equal(t, 1, a.Stats().Chunks)
	require.NoError(t, a.Free())
}

// A copy of a Buffer cannot add or drop references; a holder releasing
// once per Retain leaves the owner's reference.
func TestRetainThroughCopies(t *testing.T) {
	defer leakcheck.Check(t)
	b, err := Alloc(testkit.UniqueTag(t), 8)
	require.NoError(t, err)
	require.NoError(t, b.Retain())
	cp := shallowCopy(b)
	assert.ErrorIs(t, cp.Retain(), ErrInvalidArgument)
	assert.ErrorIs(t, cp.Release(), ErrInvalidArgument)
	assert.Equal(t, 2, b.Refs())
	require.NoError(t, b.Release())
	assert.Equal(t, 1, b.Refs())
	require.NoError(t, b.Release()) // the owner's: frees
	assert.True(t, errors.Is(b.Err(), ErrFreed))
}
