package native

import (
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/membridge/membridge/cext/leakcheck"
	"github.com/membridge/membridge/tracker"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type point struct {
	X, Y float32
	ID   int64
	Tags [4]uint8
}

func TestAllocSliceZeroed(t *testing.T) {
	defer leakcheck.Check(t)
	s, err := AllocSliceZeroed[point](t.Name(), 1000)
	require.NoError(t, err)
	vs := s.Values()
	if len(vs) != 1000 || s.Len() != 1000 || s.Buffer().Len() != 1000*24 {
		t.Fatalf("len %d, Len %d, bytes %d", len(vs), s.Len(), s.Buffer().Len())
	}
	for i := range vs {
		if vs[i] != (point{}) {
			t.Fatalf("value %d not zeroed: %+v", i, vs[i])
		}
		vs[i] = point{X: float32(i), ID: int64(i)}
	}
	require.EqualValues(t, 999, s.Values()[999].ID, "values did not stick")
	m, err := s.Move()
	if err != nil || m.Values()[5].ID != 5 {
		t.Fatalf("move: %v", err)
	}
	//membridge:ignore doublefree the test checks that Free of a moved slice returns ErrMoved
	require.ErrorIs(t, s.Free(), ErrMoved, "free of a moved slice")
	require.NoError(t, m.Close())
}

func TestAllocSliceIsJunkInDebugMode(t *testing.T) {
	defer leakcheck.Check(t)
	s, err := AllocSlice[uint32](t.Name(), 4)
	require.NoError(t, err)
	defer s.Free()
	if tracker.Checking() && s.Values()[3] != 0xCDCDCDCD {
		t.Fatalf("uninitialised values in debug mode: %#x", s.Values()[3])
	}
}

func TestSliceRefusesGoPointers(t *testing.T) {
	defer leakcheck.Check(t)
	type record struct {
		ID   int
		Name string
	}
	for _, tc := range []struct {
		err  error
		want string
	}{
		//membridge:ignore gopointer the test checks that AllocSliceZeroed refuses Go pointers with ErrPointerType
		{errOf(AllocSliceZeroed[*int]("x", 1)), "*int holds a Go pointer"},
		//membridge:ignore gopointer the test checks that AllocSliceZeroed refuses Go pointers with ErrPointerType
		{errOf(AllocSliceZeroed[record]("x", 1)), "at native.record.Name (a string)"},
		//membridge:ignore gopointer the test checks that AllocSliceZeroed refuses Go pointers with ErrPointerType
		{errOf(AllocSliceZeroed[[2][]byte]("x", 1)), "[0] (a slice)"},
		//membridge:ignore gopointer the test checks that AllocSliceZeroed refuses Go pointers with ErrPointerType
		{errOf(AllocSliceZeroed[any]("x", 1)), "a interface"},
		//membridge:ignore gopointer the test checks that AllocSliceZeroed refuses Go pointers with ErrPointerType
		{errOf(AllocSliceZeroed[map[int]int]("x", 1)), "a map"},
		//membridge:ignore gopointer the test checks that AllocSliceZeroed refuses Go pointers with ErrPointerType
		{errOf(AllocSliceZeroed[func()]("x", 1)), "a func"},
	} {
		if !errors.Is(tc.err, ErrPointerType) || !strings.Contains(tc.err.Error(), tc.want) {
			t.Errorf("got %v, want ErrPointerType mentioning %q", tc.err, tc.want)
		}
	}
	assert.NoError(t, CheckPointerFree(reflect.TypeFor[[0]*int]()), "an empty array holds no pointers")
	assert.NoError(t, CheckPointerFree(reflect.TypeFor[point]()), "point")
}

func errOf[T any](_ *Slice[T], err error) error { return err }

func TestSliceSizeOverflow(t *testing.T) {
	defer leakcheck.Check(t)
	if _, err := AllocSliceZeroed[point](t.Name(), math.MaxInt/8); !errors.Is(err, ErrInvalidSize) {
		t.Fatalf("n * 24 overflows: %v", err)
	}
	if _, err := AllocSliceZeroed[point](t.Name(), -1); !errors.Is(err, ErrInvalidSize) {
		t.Fatalf("negative n: %v", err)
	}
	s, err := AllocSliceZeroed[struct{}](t.Name(), 10)
	if err != nil || s.Len() != 0 {
		t.Fatalf("zero-size elements: %v, len %d", err, s.Len())
	}
	s.Free()
}
