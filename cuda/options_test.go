package cuda

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Open takes functional options; a later one overrides an earlier one, and
// a nil Option is ignored.
func TestOpenOptions(t *testing.T) {
	o := contextOptions{threshold: DefaultPoolReleaseThreshold}
	for _, opt := range []Option{PoolReleaseThreshold(1 << 20), PoolReleaseThreshold(2 << 20)} {
		o = opt.apply(o)
	}
	assert.Equal(t, uint64(2<<20), o.threshold)

	c, err := Open(0, PoolReleaseThreshold(1<<20), nil)
	require.NoError(t, err)
	require.NoError(t, c.Close())
}
