package cext_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/membridge/membridge/cext"
	"github.com/membridge/membridge/cext/internal/cmem"
	"github.com/membridge/membridge/tracker"
	"github.com/membridge/membridge/tracker/stacks"
)

// A traced C allocation's record is made in a cgo callback: its stack
// crosses the runtime's callback frames, and reports start it at the Go
// code that called C, as for any other allocation.
func TestTracedAllocationSiteIsTheCaller(t *testing.T) {
	prev := tracker.SetStackRate(1)
	defer tracker.SetStackRate(prev)
	require.True(t, cext.FollowChecking())
	defer cext.FollowChecking()
	tag := "cext.trace-site"
	p := cmem.Malloc(cmem.Tag(tag), 16)
	defer cmem.Free(p)
	var site string
	var frames []string
	for _, s := range tracker.LiveSnapshots() {
		if s.Tag == tag {
			site = stacks.Site(s.Stack)
			for _, f := range stacks.UserFrames(stacks.Frames(s.Stack)) {
				frames = append(frames, f.Function)
			}
		}
	}
	require.NotEmpty(t, frames, "no traced record")
	assert.False(t, strings.HasPrefix(frames[0], "runtime.") || strings.HasPrefix(frames[0], "_cgoexp_"), "site %q starts in the callback: %q", site, frames)
	assert.True(t, strings.Contains(strings.Join(frames, " "), "TestTracedAllocationSiteIsTheCaller"), "frames %q", frames)
}
