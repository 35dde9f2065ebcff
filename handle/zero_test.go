package handle_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/membridge/membridge/cext/leakcheck"
	"github.com/membridge/membridge/handle"
	"github.com/membridge/membridge/handle/internal/notify"
)

// TestZeroAndNilHandles: every exported method of a zero or nil Handle or
// Weak answers without a panic: Release and Value with ErrInvalid,
// Pointer with nil, Tag with "".
func TestZeroAndNilHandles(t *testing.T) {
	defer leakcheck.Check(t)
	var (
		nilHandle *handle.Handle
		nilWeak   *handle.Weak[notify.Counter]
	)
	type methods struct {
		pointer func() any
		tag     func() string
		release func() error
		value   func() error // nil where the type has no Value method
	}
	cases := map[string]methods{
		"zero Handle": {
			pointer: func() any { return (&handle.Handle{}).Pointer() },
			tag:     func() string { return (&handle.Handle{}).Tag() },
			release: func() error { return (&handle.Handle{}).Release() },
		},
		"nil *Handle": {
			pointer: func() any { return nilHandle.Pointer() },
			tag:     nilHandle.Tag,
			release: nilHandle.Release,
		},
		"zero Weak": {
			pointer: func() any { return (&handle.Weak[notify.Counter]{}).Pointer() },
			tag:     func() string { return (&handle.Weak[notify.Counter]{}).Tag() },
			release: func() error { return (&handle.Weak[notify.Counter]{}).Release() },
			value:   func() error { _, err := (&handle.Weak[notify.Counter]{}).Value(); return err },
		},
		"nil *Weak": {
			pointer: func() any { return nilWeak.Pointer() },
			tag:     nilWeak.Tag,
			release: nilWeak.Release,
			value:   func() error { _, err := nilWeak.Value(); return err },
		},
	}
	for name, m := range cases {
		t.Run(name, func(t *testing.T) {
			assert.NotPanics(t, func() {
				assert.Nil(t, m.pointer())
				assert.Empty(t, m.tag())
				assert.ErrorIs(t, m.release(), handle.ErrInvalid)
				assert.ErrorIs(t, m.release(), handle.ErrInvalid, "second Release")
				if m.value != nil {
					assert.ErrorIs(t, m.value(), handle.ErrInvalid)
				}
			})
		})
	}
	// The nil pointer a zero handle gives is no live handle.
	_, err := handle.Value(nil)
	assert.ErrorIs(t, err, handle.ErrUnknown)
	_, err = handle.WeakValue[notify.Counter](nil)
	assert.ErrorIs(t, err, handle.ErrUnknown)
}
