package stacks_test

import (
	"math"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/membridge/membridge/internal/testkit"
	"github.com/membridge/membridge/tracker"
	"github.com/membridge/membridge/tracker/internal/ledgertest"
	"github.com/membridge/membridge/tracker/stacks"
)

func TestParseTrackMode(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"", stacks.DefaultSampleRate, true},
		{"sample", stacks.DefaultSampleRate, true},
		{"off", 0, true},
		{"all", 1, true},
		{"sample:4096", 4096, true},
		{"sample:0", 0, false},
		{"sample:x", 0, false},
		{"everything", 0, false},
	} {
		got, err := stacks.ParseTrackMode(tc.in)
		if (err == nil) != tc.ok || (tc.ok && got != tc.want) {
			t.Errorf("ParseTrackMode(%q) = %d, %v; want %d, ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

//go:noinline
func allocHere(t *testing.T, o *ledgertest.Owner) *ledgertest.Handle {
	h, err := o.Alloc(testkit.UniqueTag(t), 8)
	require.NoError(t, err)
	return h
}

// A stack starts at the first frame outside the module's library packages:
// the stand-in owner, under internal/, counts as the user's. The site is
// that frame.
func TestFramesUserFramesAndSite(t *testing.T) {
	defer tracker.SetStackRate(tracker.SetStackRate(1))
	var o ledgertest.Owner
	h := allocHere(t, &o)
	defer h.Free()
	fs := stacks.Frames(h.Rec.Stack())
	require.NotEmpty(t, fs)
	user := stacks.UserFrames(fs)
	require.NotEmpty(t, user)
	assert.Contains(t, user[0].Function, "ledgertest.(*Owner).Alloc")
	assert.True(t, strings.HasPrefix(stacks.Site(h.Rec.Stack()), user[0].Function+" "))
	assert.Nil(t, stacks.Frames(nil))
	assert.Empty(t, stacks.Site(nil))
	lib := []runtime.Frame{
		{Function: "github.com/membridge/membridge/tracker.Reserve"},
		{Function: "github.com/membridge/membridge/native.Alloc"},
		{Function: "example.com/service.handle"},
	}
	assert.Equal(t, lib[2:], stacks.UserFrames(lib), "the library's leading frames are dropped")
	assert.Len(t, stacks.UserFrames(lib[:1]), 1, "at least one frame is kept")
}

func TestSetStackDepth(t *testing.T) {
	defer tracker.SetStackRate(tracker.SetStackRate(1))
	defer stacks.SetStackDepth(32)
	stacks.SetStackDepth(2)
	var o ledgertest.Owner
	h := allocHere(t, &o)
	defer h.Free()
	assert.LessOrEqual(t, len(h.Rec.Stack()), 2)
}

func TestSampleWeight(t *testing.T) {
	assert.Equal(t, 100.0, stacks.SampleWeight(100, 1))
	assert.Equal(t, 0.0, stacks.SampleWeight(0, 4096))
	assert.InDelta(t, 100/(-math.Expm1(-100.0/4096)), stacks.SampleWeight(100, 4096), 1e-9)
	assert.Greater(t, stacks.SampleWeight(100, stacks.DefaultSampleRate), 100.0)
}
