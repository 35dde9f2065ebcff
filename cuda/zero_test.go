package cuda

import (
	"reflect"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/membridge/membridge/internal/zerovalue"
	"github.com/membridge/membridge/tracker"
	"github.com/membridge/membridge/tracker/leaktest"
)

// Every exported method on a nil pointer and on a zero value of each
// handle type returns an error wrapping ErrInvalidArgument or is a
// documented no-op; none panics, and nothing is allocated through a zero
// Context (the host backend would allocate through one that only checked
// for nil).
func TestZeroAndNilHandles(t *testing.T) {
	defer leaktest.VerifyNone(t)
	before := tracker.TagStats("").AllocatedCount // a call with zero arguments has no tag
	for _, c := range []struct {
		name string
		recv any
		noop []string // return nil: documented no-ops
	}{
		{"nil *Context", (*Context)(nil), []string{"Close"}},
		{"zero Context", &Context{}, nil},
		{"nil *DeviceBuffer", (*DeviceBuffer)(nil), []string{"Free", "Close"}},
		{"zero DeviceBuffer", &DeviceBuffer{}, nil},
		{"zero DeviceView", DeviceView{}, nil},
		{"nil *DeviceSlice", (*DeviceSlice[float32])(nil), []string{"Free", "Close"}},
		{"zero DeviceSlice", &DeviceSlice[float32]{}, nil},
		{"zero SliceView", SliceView[float32]{}, nil},
		{"nil *PinnedBuffer", (*PinnedBuffer)(nil), []string{"Free", "Close"}},
		{"zero PinnedBuffer", &PinnedBuffer{}, nil},
		{"nil *Stream", (*Stream)(nil), []string{"Close"}},
		{"zero Stream", &Stream{}, nil},
		{"nil *Event", (*Event)(nil), []string{"Close"}},
		{"zero Event", &Event{}, nil},
		{"nil *Module", (*Module)(nil), []string{"Close"}},
		{"zero Module", &Module{}, nil},
		{"nil *Function", (*Function)(nil), nil},
		{"zero Function", &Function{}, nil},
	} {
		t.Run(c.name, func(t *testing.T) { zerovalue.Check(t, c.name, c.recv, ErrInvalidArgument, c.noop...) })
	}
	// The functions that take a context or stream.
	var zc Context
	_, err := AllocSlice[float32](&zc, "zero-context", 4)
	assert.ErrorIs(t, err, ErrInvalidArgument)
	_, err = CloneHtoD(&zc, "zero-context", []float32{1, 2})
	assert.ErrorIs(t, err, ErrInvalidArgument)
	_, err = AllocSliceOn[float32](&Stream{}, "zero-stream", 4)
	assert.ErrorIs(t, err, ErrInvalidArgument)
	_, err = zc.Alloc("zero-context", 64)
	assert.ErrorIs(t, err, ErrInvalidArgument)
	_, err = zc.AllocPinned("zero-context", 64)
	assert.ErrorIs(t, err, ErrInvalidArgument)
	assert.Nil(t, PinnedValues[float32](&PinnedBuffer{}))
	_, err = CloneDtoH(&DeviceSlice[float32]{})
	assert.ErrorIs(t, err, ErrInvalidArgument)
	assert.ErrorIs(t, CopyHtoD(&DeviceBuffer{}, []byte{1}), ErrInvalidArgument)
	assert.ErrorIs(t, Fill(DeviceView{}, 0), ErrInvalidArgument)
	assert.Zero(t, tracker.TagStats("zero-context").AllocatedCount, "a zero Context allocated")
	assert.Zero(t, tracker.TagStats("zero-stream").AllocatedCount, "a zero Stream allocated")
	assert.Equal(t, before, tracker.TagStats("").AllocatedCount, "a nil or zero handle allocated")
}

// shallowCopy copies *p as cp := *p does, through reflection so that go
// vet's copylocks check does not stop the test from doing what it tests.
func shallowCopy[T any](p *T) *T {
	c := reflect.New(reflect.TypeFor[T]())
	c.Elem().Set(reflect.ValueOf(p).Elem())
	return c.Interface().(*T)
}

// A copy of a DeviceBuffer or PinnedBuffer struct owns nothing: a copy's
// Free after the original's would end the record the ledger had since
// given to another allocation, which then could not be freed.
func TestHandleCopiesOwnNothing(t *testing.T) {
	defer leaktest.VerifyNone(t)
	tag := t.Name()
	b, err := shared.Alloc(tag, 64)
	require.NoError(t, err)
	p, err := shared.AllocPinned(tag, 64)
	require.NoError(t, err)
	cb, cp := shallowCopy(b), shallowCopy(p)
	assert.ErrorIs(t, cb.Free(), ErrInvalidArgument)
	assert.ErrorIs(t, cb.Err(), ErrInvalidArgument)
	assert.ErrorIs(t, cp.Free(), ErrInvalidArgument)
	assert.Panics(t, func() { cp.Bytes() })
	require.NoError(t, b.Err(), "the original changed through its copy")
	require.NoError(t, b.Free())
	require.NoError(t, p.Free())
	var others []*DeviceBuffer // likely to reuse b's record
	for range 64 {
		o, err := shared.Alloc(tag, 64)
		require.NoError(t, err)
		others = append(others, o)
	}
	assert.ErrorIs(t, cb.Free(), ErrInvalidArgument)
	for _, o := range others {
		require.NoError(t, o.Free(), "an allocation was ended through a stale copy")
	}
}
