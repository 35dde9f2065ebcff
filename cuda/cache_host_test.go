//go:build !cuda

package cuda

import (
	"testing"

	"github.com/membridge/membridge/internal/testkit"
	"github.com/membridge/membridge/tracker"
	"github.com/membridge/membridge/tracker/leaktest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// When the device is full, the ledger's relief trims the cache before the
// retry: the cached block makes room for a request of another size.
func TestCacheGivesWayWhenTheDeviceIsFull(t *testing.T) {
	defer leaktest.VerifyNone(t)
	withoutChecking(t)
	c := cacheContext(t)
	tag := testkit.UniqueTag(t)
	defer emulated.total.Store(emulated.total.Load())
	emulated.total.Store(emulated.used.Load() + 4<<20)

	b, err := c.Alloc(tag, 3<<20)
	require.NoError(t, err)
	require.NoError(t, b.Free())
	require.EqualValues(t, 3<<20, c.CachedBytes())
	before := tracker.Pressure()
	b, err = c.Alloc(tag, 2<<20) // another class, and 1 MiB free
	require.NoError(t, err, "the relief gives the cached block back")
	assert.Zero(t, c.CachedBytes())
	assert.Greater(t, tracker.Pressure().RetrySuccesses, before.RetrySuccesses)
	require.NoError(t, b.Free())
}
