package kernels

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPTX: each source has its PTX for both targets, and each capability
// gets the target it can run.
func TestPTX(t *testing.T) {
	srcs, err := filepath.Glob("*.cu")
	require.NoError(t, err)
	require.NotEmpty(t, srcs)
	for _, cc := range []struct {
		major, minor int
		target       string
	}{{8, 0, "sm_80"}, {8, 9, "sm_80"}, {9, 0, "sm_90"}, {10, 0, "sm_90"}} {
		mods, ok := PTX(cc.major, cc.minor)
		require.True(t, ok, "compute capability %d.%d", cc.major, cc.minor)
		require.Len(t, mods, len(srcs), "compute capability %d.%d: one module per source", cc.major, cc.minor)
		for _, m := range mods {
			assert.Contains(t, m, ".target "+cc.target)
			assert.Contains(t, m, ".entry mb_")
		}
	}
	for _, major := range []int{5, 7} {
		mods, ok := PTX(major, 5)
		assert.False(t, ok)
		assert.Empty(t, mods)
	}
}

// TestSourcesNamedInPTX: a committed PTX file says which source and
// target it was generated from, so a renamed source shows.
func TestSourcesNamedInPTX(t *testing.T) {
	files, err := filepath.Glob("*.ptx")
	require.NoError(t, err)
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		name, _, _ := strings.Cut(f, ".")
		assert.Contains(t, string(b), name+".cu", "%s", f)
	}
}
