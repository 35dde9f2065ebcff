//go:build cuda

package cuda

import (
	"testing"
	"time"

	"github.com/membridge/membridge/cuda/fakecuda"
	"github.com/membridge/membridge/tracker/leaktest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A block freed on stream A while A's work on it is still pending must not
// go to stream B: the stand-in delays A's write, and counts any work that
// touches memory A's pending work uses (a race a GPU would lose, and
// corruption when A's write lands). Once A's work is done, B gets the block.
func TestStandinCacheWaitsForTheFreeingStream(t *testing.T) {
	standin(t)
	defer leaktest.VerifyNone(t)
	withoutChecking(t)
	c := cacheContext(t)
	a, err := c.NewStream()
	require.NoError(t, err)
	defer a.Close()
	b, err := c.NewStream()
	require.NoError(t, err)
	defer b.Close()
	require.True(t, fakecuda.DelayStreamWork(time.Hour))
	defer fakecuda.DelayStreamWork(0)
	before, _ := fakecuda.Read()

	const n = 4096
	buf, err := a.Alloc("test/cache-standin", n)
	require.NoError(t, err)
	p := ptrOf(t, buf)
	require.NoError(t, FillOn(a, buf, 0xAA)) // lands in an hour, or when waited for
	require.NoError(t, buf.Free())
	require.EqualValues(t, n, c.CachedBytes())

	other, err := b.Alloc("test/cache-standin", n)
	require.NoError(t, err)
	assert.NotEqual(t, p, ptrOf(t, other), "B got the block while A's write was pending")
	require.NoError(t, FillOn(b, other, 0xBB))
	mid, _ := fakecuda.Read()
	assert.Equal(t, before.StreamHazards, mid.StreamHazards, "work touched memory pending on another stream")
	assert.Greater(t, mid.DelayedWork, before.DelayedWork, "the stand-in delayed the writes")

	require.NoError(t, a.Synchronize()) // A's write lands
	again, err := b.Alloc("test/cache-standin", n)
	require.NoError(t, err)
	assert.Equal(t, p, ptrOf(t, again), "B reuses A's block once A's event has completed")
	require.NoError(t, FillOn(b, again, 0xCC))
	got := make([]byte, n)
	require.NoError(t, CopyDtoHOn(b, got, again))
	require.NoError(t, b.Synchronize())
	assert.Equal(t, byte(0xCC), got[0])
	assert.Equal(t, byte(0xCC), got[n-1])
	after, _ := fakecuda.Read()
	assert.Equal(t, before.StreamHazards, after.StreamHazards, "work touched memory pending on another stream")
	require.NoError(t, again.Free())
	require.NoError(t, other.Free())
}

// The same stream reuses a block at once, its pending work and all: stream
// order makes that safe, and the stand-in sees no race.
func TestStandinCacheSameStreamReuseIsOrdered(t *testing.T) {
	standin(t)
	defer leaktest.VerifyNone(t)
	withoutChecking(t)
	c := cacheContext(t)
	a, err := c.NewStream()
	require.NoError(t, err)
	defer a.Close()
	require.True(t, fakecuda.DelayStreamWork(time.Hour))
	defer fakecuda.DelayStreamWork(0)
	before, _ := fakecuda.Read()

	buf, err := a.Alloc("test/cache-standin", 512)
	require.NoError(t, err)
	p := ptrOf(t, buf)
	require.NoError(t, FillOn(a, buf, 0xAA))
	require.NoError(t, buf.Free())
	buf, err = a.Alloc("test/cache-standin", 512)
	require.NoError(t, err)
	assert.Equal(t, p, ptrOf(t, buf))
	require.NoError(t, FillOn(a, buf, 0xBB))
	got := make([]byte, 512)
	require.NoError(t, CopyDtoHOn(a, got, buf))
	assert.Equal(t, byte(0xBB), got[0], "the later write wins in stream order")
	after, _ := fakecuda.Read()
	assert.Equal(t, before.StreamHazards, after.StreamHazards)
	require.NoError(t, buf.Free())
}
