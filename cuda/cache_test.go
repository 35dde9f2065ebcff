package cuda

import (
	"math"
	"runtime"
	"sync"
	"testing"

	"github.com/membridge/membridge/internal/testkit"
	"github.com/membridge/membridge/tracker"
	"github.com/membridge/membridge/tracker/leaktest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Tests of the device memory cache (cache.go), on whichever backend the
// binary is built with. Tests run in checking mode, where the cache is
// off: those that exercise it turn checking off for their duration.

// withoutChecking turns checking off until t ends.
func withoutChecking(t *testing.T) {
	t.Helper()
	prev := tracker.SetChecking(false)
	t.Cleanup(func() { tracker.SetChecking(prev) })
	if tracker.Checking() {
		t.Skip("checking is always on in this build (membridge_invariants)")
	}
}

// cacheContext opens a context of its own for a cache test, closed when t
// ends, so no other test's frees land in its cache.
func cacheContext(t *testing.T, opts ...Option) *Context {
	t.Helper()
	c, err := Open(0, opts...)
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, c.Close()) })
	return c
}

func ptrOf(t *testing.T, b *DeviceBuffer) DevicePtr {
	t.Helper()
	p, err := b.DevicePtr()
	require.NoError(t, err)
	return p
}

func TestCacheClasses(t *testing.T) {
	for _, tc := range []struct{ n, want int }{
		{1, 512}, {256, 512}, {512, 512}, {513, 1024}, {4000, 4096},
		{1 << 20, 1 << 20}, {1<<20 + 1, 1<<20 + 128<<10}, {3 << 20, 3 << 20},
		{3<<20 + 1, 3<<20 + 256<<10}, {cacheLargest, cacheLargest},
	} {
		assert.Equal(t, tc.want, cacheClass(tc.n), "class of %d bytes", tc.n)
	}
	// Every class holds its request and wastes at most 12.5% (or 511
	// bytes); classes never shrink as requests grow.
	// Each class has its own index in [0, cacheClasses), in order.
	prev, prevIndex := 0, -1
	for n := 1; n <= cacheLargest; n += 1 + n/7 {
		c := cacheClass(n)
		require.GreaterOrEqual(t, c, n)
		require.LessOrEqual(t, c, max(n+n/8, n+511), "class of %d", n)
		require.GreaterOrEqual(t, c, prev)
		i := classIndex(c)
		if c == prev {
			require.Equal(t, prevIndex, i)
		} else {
			require.Greater(t, i, prevIndex, "index of class %d", c)
		}
		require.Less(t, i, cacheClasses)
		prev, prevIndex = c, i
	}
	assert.Equal(t, cacheClasses-1, classIndex(cacheLargest))
	assert.Equal(t, 0, classIndex(cacheClass(1)))
}

// In checking mode (tests) the cache is off: every free reaches the
// driver, so the stand-in's and ASan's checks see a stale device pointer.
func TestCacheOffWhileChecking(t *testing.T) {
	defer leaktest.VerifyNone(t)
	if !tracker.Checking() {
		t.Skip("tests run with checking on")
	}
	c := cacheContext(t)
	for range 3 {
		b, err := c.Alloc("test/cache-checking", 256)
		require.NoError(t, err)
		require.NoError(t, b.Free())
		assert.Zero(t, c.CachedBytes(), "cached while checking")
	}
	s, err := c.NewStream()
	require.NoError(t, err)
	defer s.Close()
	b, err := s.Alloc("test/cache-checking", 256)
	require.NoError(t, err)
	require.NoError(t, b.Free())
	assert.Zero(t, c.CachedBytes(), "cached while checking")
}

func TestCacheReusesOnTheSameStream(t *testing.T) {
	defer leaktest.VerifyNone(t)
	withoutChecking(t)
	c := cacheContext(t)
	tag := testkit.UniqueTag(t)

	b, err := c.Alloc(tag, 256)
	require.NoError(t, err)
	p := ptrOf(t, b)
	require.NoError(t, b.Free())
	assert.EqualValues(t, 512, c.CachedBytes(), "a 256-byte free keeps a 512-byte block")
	assert.GreaterOrEqual(t, tracker.CachedBytes(kindDevice, c.dev.Ordinal), int64(512), "the ledger shows the cached bytes")
	assert.Zero(t, liveBytes(kindDevice, tag), "a cached block is not live")

	b, err = c.Alloc(tag, 300) // the same class
	require.NoError(t, err)
	assert.Equal(t, p, ptrOf(t, b), "the same stream reuses the block")
	assert.Zero(t, c.CachedBytes())
	assert.EqualValues(t, 300, liveBytes(kindDevice, tag), "the ledger counts the request, not the block")
	require.NoError(t, b.Free())
	//membridge:ignore doublefree the test checks that a second Free caches nothing twice
	assert.ErrorIs(t, b.Free(), ErrFreed, "a second Free caches nothing twice")
	assert.EqualValues(t, 512, c.CachedBytes())

	s, err := c.NewStream()
	require.NoError(t, err)
	b, err = s.Alloc(tag, 1000)
	require.NoError(t, err)
	q := ptrOf(t, b)
	require.NoError(t, b.Free())
	b, err = s.Alloc(tag, 1024)
	require.NoError(t, err)
	assert.Equal(t, q, ptrOf(t, b), "the same stream reuses the block")
	require.NoError(t, b.Free())
	require.NoError(t, s.Close())
	assert.EqualValues(t, 512, c.CachedBytes(), "closing a stream gives back its blocks")

	freed, err := c.EmptyCache()
	require.NoError(t, err)
	assert.EqualValues(t, 512, freed)
	assert.Zero(t, c.CachedBytes())
}

// A block freed on one stream goes to another once the event recorded on
// the first after the free has completed: at once on an idle device.
func TestCacheReusesAcrossStreamsAfterTheEvent(t *testing.T) {
	defer leaktest.VerifyNone(t)
	withoutChecking(t)
	c := cacheContext(t)
	a, err := c.NewStream()
	require.NoError(t, err)
	defer a.Close()
	b, err := c.NewStream()
	require.NoError(t, err)
	defer b.Close()
	buf, err := a.Alloc("test/cache-cross", 4096)
	require.NoError(t, err)
	require.NoError(t, FillOn(a, buf, 0xAA))
	p := ptrOf(t, buf)
	require.NoError(t, buf.Free())
	require.NoError(t, a.Synchronize())
	buf, err = b.AllocZeroed("test/cache-cross", 4096)
	require.NoError(t, err)
	assert.Equal(t, p, ptrOf(t, buf), "reused on another stream once the first is idle")
	require.NoError(t, b.Synchronize())
	got, err := CloneDtoH(&DeviceSlice[byte]{buf: buf})
	require.NoError(t, err)
	assert.Equal(t, make([]byte, 4096), got, "AllocZeroed from the cache is zeroed")
	require.NoError(t, buf.Free())
}

func TestCacheLimit(t *testing.T) {
	defer leaktest.VerifyNone(t)
	withoutChecking(t)
	for _, limit := range []int64{0, -1, math.MinInt64} {
		c := cacheContext(t, CacheLimit(limit))
		b, err := c.Alloc("test/cache-limit", 256)
		require.NoError(t, err)
		require.NoError(t, b.Free())
		assert.Zero(t, c.CachedBytes(), "CacheLimit(%d) turns the cache off", limit)
	}
	c := cacheContext(t, CacheLimit(1024))
	var bufs []*DeviceBuffer
	for range 3 {
		b, err := c.Alloc("test/cache-limit", 512)
		require.NoError(t, err)
		bufs = append(bufs, b)
	}
	big, err := c.Alloc("test/cache-limit", 2048) // above the limit: straight to the driver
	require.NoError(t, err)
	bufs = append(bufs, big)
	for _, b := range bufs {
		require.NoError(t, b.Free())
	}
	assert.EqualValues(t, 1024, c.CachedBytes(), "the cache holds at most its limit")

	huge := cacheContext(t, CacheLimit(math.MaxInt64))
	b, err := huge.Alloc("test/cache-limit", cacheLargest+1)
	require.NoError(t, err)
	require.NoError(t, b.Free())
	assert.Zero(t, huge.CachedBytes(), "requests above the largest class go to the driver")
	b, err = huge.Alloc("test/cache-limit", 0)
	require.NoError(t, err)
	require.NoError(t, b.Free())
	assert.Zero(t, huge.CachedBytes(), "a zero-size buffer has no block")
}

// Under memory pressure the ledger trims the cache first; a limit's
// shortage does not count cached bytes, so it trims nothing.
func TestCacheTrim(t *testing.T) {
	defer leaktest.VerifyNone(t)
	withoutChecking(t)
	c := cacheContext(t)
	b, err := c.Alloc("test/cache-trim", 1<<20)
	require.NoError(t, err)
	require.NoError(t, b.Free())
	require.EqualValues(t, 1<<20, c.CachedBytes())
	tracker.Trim(tracker.Shortage{Cause: tracker.ShortKindLimit, Kind: kindDevice, Bytes: 1 << 20})
	assert.EqualValues(t, 1<<20, c.CachedBytes(), "a limit's shortage trims nothing")
	assert.GreaterOrEqual(t, tracker.Trim(tracker.Shortage{}), int64(1<<20))
	assert.Zero(t, c.CachedBytes(), "out of memory empties the cache")
}

// Blocks cached since before the previous garbage collection go back.
func TestCacheTrimmedWhenIdle(t *testing.T) {
	defer leaktest.VerifyNone(t)
	withoutChecking(t)
	c := cacheContext(t)
	s, err := c.NewStream()
	require.NoError(t, err)
	defer s.Close()
	b, err := c.Alloc("test/cache-idle", 8192)
	require.NoError(t, err)
	require.NoError(t, b.Free())
	b, err = s.Alloc("test/cache-idle", 8192)
	require.NoError(t, err)
	require.NoError(t, b.Free())
	require.EqualValues(t, 2*8192, c.CachedBytes())
	testkit.Eventually(t, func(ct *assert.CollectT) {
		runtime.GC()
		assert.Zero(ct, c.CachedBytes(), "idle blocks go back after collections")
	})
}

func TestEmptyCacheOfNilZeroAndClosed(t *testing.T) {
	var nilCtx *Context
	_, err := nilCtx.EmptyCache()
	assert.ErrorIs(t, err, ErrInvalidArgument)
	assert.Zero(t, nilCtx.CachedBytes())
	var zero Context
	_, err = zero.EmptyCache()
	assert.ErrorIs(t, err, ErrInvalidArgument)
	assert.Zero(t, zero.CachedBytes())

	withoutChecking(t)
	c, err := Open(0)
	require.NoError(t, err)
	b, err := c.Alloc("test/cache-close", 256)
	require.NoError(t, err)
	require.NoError(t, b.Free())
	require.NotZero(t, c.CachedBytes())
	require.NoError(t, c.Close())
	//membridge:ignore useafterfree the test checks what a closed context reports
	assert.Zero(t, c.CachedBytes(), "Close empties the cache")
	_, err = c.EmptyCache()
	assert.ErrorIs(t, err, ErrClosed)
}

// Many goroutines allocating and freeing on shared and own streams: every
// buffer gets memory nobody else holds (the race detector and the values
// written check it), and the cache ends within its limit.
func TestCacheConcurrent(t *testing.T) {
	defer leaktest.VerifyNone(t)
	withoutChecking(t)
	c := cacheContext(t, CacheLimit(1<<20))
	shared, err := c.NewStream()
	require.NoError(t, err)
	defer shared.Close()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			own, err := c.NewStream()
			if !assert.NoError(t, err) {
				return
			}
			defer own.Close()
			for i := range 50 {
				s := own
				if i%3 == 0 {
					s = shared
				}
				n := 256 + 512*(i%4)
				b, err := s.Alloc("test/cache-concurrent", n)
				if err != nil {
					t.Error(err)
					return
				}
				v := byte(g*50 + i)
				assert.NoError(t, FillOn(s, b, v))
				got := make([]byte, n)
				assert.NoError(t, CopyDtoHOn(s, got, b))
				assert.NoError(t, s.Synchronize())
				assert.Equal(t, v, got[0])
				assert.Equal(t, v, got[n-1])
				assert.NoError(t, b.Free())
			}
		}()
	}
	wg.Wait()
	assert.LessOrEqual(t, c.CachedBytes(), int64(1<<20))
}
