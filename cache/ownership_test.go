package cache_test

import (
	"context"
	"errors"
	"math"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/membridge/membridge/cache"
	"github.com/membridge/membridge/native"
	"github.com/membridge/membridge/tracker"
	"github.com/membridge/membridge/tracker/leaktest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Put takes ownership: the caller's handle is moved, so its Free cannot
// free what the cache holds, and the cached bytes stay readable.
func TestPutTakesOwnership(t *testing.T) {
	defer leaktest.VerifyNone(t)
	tag := t.Name()
	c, err := cache.New[string](tag, 100)
	require.NoError(t, err)
	defer c.Close()
	b := buf(t, tag, 10, 'x')
	require.NoError(t, c.Put("k", b))

	require.ErrorIs(t, b.Free(), native.ErrMoved, "the caller freed a buffer it gave the cache")
	require.ErrorIs(t, b.Err(), native.ErrMoved)
	assert.Panics(t, func() { b.Bytes() }, "the caller's handle still reaches the memory")
	got, ok := c.Get("k")
	require.True(t, ok)
	assert.Equal(t, "xxxxxxxxxx", read(t, got))
	//membridge:ignore doublefree the test checks that a reader's Free of a borrowed buffer returns ErrBorrowed and frees nothing
	require.ErrorIs(t, got.Free(), native.ErrBorrowed, "a reader's Free must not free the cached buffer")
	require.NoError(t, got.Release())
	assert.Equal(t, int64(1), tracker.TagStats(tag).LiveCount)
}

// Putting the same buffer twice, under the same key, is a no-op: the entry
// stays and its memory is not freed. The handle Get returned counts as the
// same buffer.
func TestPutSameBufferTwiceIsANoOp(t *testing.T) {
	defer leaktest.VerifyNone(t)
	tag := t.Name()
	c, err := cache.New[string](tag, 100)
	require.NoError(t, err)
	defer c.Close()
	b := buf(t, tag, 10, 'y')
	require.NoError(t, c.Put("k", b))
	require.NoError(t, c.Put("k", b))
	got, ok := c.Get("k")
	require.True(t, ok, "a second Put of the same buffer lost the entry")
	assert.Equal(t, "yyyyyyyyyy", read(t, got))
	require.NoError(t, c.Put("k", got))
	require.NoError(t, got.Release())
	got, ok = c.Get("k")
	require.True(t, ok)
	assert.Equal(t, "yyyyyyyyyy", read(t, got))
	require.NoError(t, got.Release())
	s := c.Stats()
	assert.Equal(t, int64(1), s.Entries)
	assert.Equal(t, int64(10), s.Bytes)
	assert.Equal(t, int64(1), tracker.TagStats(tag).LiveCount)

	// Under another key the buffer is no longer the caller's to give.
	err = c.Put("other", b)
	require.ErrorIs(t, err, native.ErrMoved)
	_, ok = c.Get("other")
	assert.False(t, ok)
	got, ok = c.Get("k")
	require.True(t, ok, "a refused Put disturbed the entry")
	require.NoError(t, got.Release())
}

// Misuse gets errors, and on error the caller keeps the buffer.
func TestPutMisuse(t *testing.T) {
	defer leaktest.VerifyNone(t)
	tag := t.Name()
	c, err := cache.New[int](tag, 100)
	require.NoError(t, err)
	defer c.Close()

	require.ErrorIs(t, c.Put(1, nil), native.ErrInvalidArgument)

	freed := buf(t, tag, 10, 'f')
	require.NoError(t, freed.Free())
	require.ErrorIs(t, c.Put(1, freed), native.ErrFreed)

	viewed := buf(t, tag, 10, 'v')
	v, err := viewed.View(0, 5)
	require.NoError(t, err)
	require.ErrorIs(t, c.Put(1, viewed), native.ErrBorrowed)
	require.NoError(t, v.Release())
	require.NoError(t, viewed.Free(), "after a failed Put the buffer is still the caller's")
	_, ok := c.Get(1)
	assert.False(t, ok)

	_, err = cache.New[int](tag, -1)
	require.ErrorContains(t, err, "maxBytes -1 must be positive")
	_, err = cache.New[int](tag, 1, cache.TTL(-time.Second))
	require.ErrorContains(t, err, "negative TTL")

	var zero cache.Cache[int]
	b := buf(t, tag, 10, 'z')
	require.ErrorIs(t, zero.Put(1, b), cache.ErrClosed)
	var nilCache *cache.Cache[int]
	require.ErrorIs(t, nilCache.Put(1, b), cache.ErrClosed)
	_, ok = nilCache.Get(1)
	assert.False(t, ok)
	assert.False(t, zero.Remove(1))
	assert.Zero(t, zero.Expire())
	assert.Zero(t, zero.Stats())
	require.NoError(t, zero.Close())
	require.NoError(t, b.Free(), "a refused Put left the buffer with the caller")
}

// A Get after the entry was evicted misses, and the evicted memory is
// freed; a reader holding it keeps it until its Release.
func TestGetAfterEviction(t *testing.T) {
	defer leaktest.VerifyNone(t)
	tag := t.Name()
	c, err := cache.New[int](tag, 100)
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.Put(1, buf(t, tag, 60, '1')))
	held, ok := c.Get(1)
	require.True(t, ok)
	require.NoError(t, c.Put(2, buf(t, tag, 60, '2'))) // evicts 1
	_, ok = c.Get(1)
	assert.False(t, ok)
	assert.Equal(t, int64(2), tracker.TagStats(tag).LiveCount, "the reader's buffer went early")
	assert.Equal(t, strings.Repeat("1", 60), read(t, held))
	require.NoError(t, held.Release())
	assert.Equal(t, int64(1), tracker.TagStats(tag).LiveCount)
}

// A budget (a tag's limit) that refuses requests again and again does not
// flush a cache of another tag: its entries do not count against the
// budget. A refusal by the cache's own tag's limit, its kind's limit, or
// the allocator running out, does evict.
func TestReliefEvictsOnlyWhatIsShort(t *testing.T) {
	defer leaktest.VerifyNone(t)
	cacheTag, budgetTag := t.Name()+"/results", t.Name()+"/requests"
	c, err := cache.New[int](t.Name(), 1<<20)
	require.NoError(t, err)
	defer c.Close()
	for i := range 50 {
		require.NoError(t, c.Put(i, buf(t, cacheTag, 1000, 'r')))
	}

	tracker.SetTagLimit(budgetTag, 4096)
	defer tracker.SetTagLimit(budgetTag, 0)
	held, err := native.Alloc(budgetTag, 4000)
	require.NoError(t, err)
	for range 8 {
		_, err := native.Alloc(budgetTag, 1000)
		require.ErrorIs(t, err, native.ErrLimit)
		ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
		_, err = native.AllocContext(ctx, budgetTag, 1000)
		cancel()
		require.ErrorIs(t, err, native.ErrLimit)
	}
	require.NoError(t, held.Free())
	s := c.Stats()
	assert.Equal(t, int64(50), s.Entries, "a full budget flushed an unrelated cache")
	assert.Zero(t, s.Evictions)

	// The cache's own tag's limit: entries go, least recently used first,
	// as many as the refused request needs.
	tracker.SetTagLimit(cacheTag, 50_500)
	defer tracker.SetTagLimit(cacheTag, 0)
	b, err := native.Alloc(cacheTag, 2000)
	require.NoError(t, err, "the cache should have made room under its tag's limit")
	require.NoError(t, b.Free())
	s = c.Stats()
	assert.Equal(t, int64(2), s.Evictions, "evicted %d entries for 2000 bytes, want 2", s.Evictions)
	_, ok := c.Get(0)
	assert.False(t, ok, "the least recently used entry survived")
	_, ok = c.Get(1)
	assert.False(t, ok)
	got, ok := c.Get(2)
	require.True(t, ok)
	require.NoError(t, got.Release())
	tracker.SetTagLimit(cacheTag, 0)

	// The allocator out of memory: any entry may go.
	tracker.Relieve(tracker.Shortage{Bytes: 0})
	assert.Zero(t, c.Stats().Entries)
}

// A kind's limit evicts the entries of that kind only.
func TestReliefByKind(t *testing.T) {
	defer leaktest.VerifyNone(t)
	tag := t.Name()
	c, err := cache.New[int](tag, 1<<20)
	require.NoError(t, err)
	defer c.Close()
	for i := range 5 {
		require.NoError(t, c.Put(i, buf(t, tag, 100, 'h'))) // c-heap
	}
	mem := make([]byte, 1000)
	keep := native.DeleterFunc("go memory", func(unsafe.Pointer) {})
	for i := range 5 {
		a, err := native.Adopt(tag, unsafe.Pointer(&mem[i*100]), 100, keep)
		require.NoError(t, err)
		require.NoError(t, c.Put(10+i, a))
	}
	// What an owner whose allocation a kind's limit refused passes
	// (tracker.ShortageOf its error).
	freed := tracker.Relieve(tracker.Shortage{Bytes: 250, Cause: tracker.ShortKindLimit, Kind: native.KindAdopted, Tag: "another tag"})
	assert.GreaterOrEqual(t, freed, int64(300))
	for i := range 5 {
		got, ok := c.Get(i)
		require.True(t, ok, "c-heap entry %d evicted for the adopted kind's limit", i)
		require.NoError(t, got.Release())
	}
	assert.Equal(t, int64(3), c.Stats().Evictions, "250 bytes need 3 of the 100-byte adopted entries")
	for i := range 3 {
		_, ok := c.Get(10 + i)
		assert.False(t, ok, "adopted entry %d survived", i)
	}
}

// A request larger than the limit itself is hopeless: it evicts nothing,
// whatever its size, so a hostile size cannot flush the cache.
func TestHostileSizeEvictsNothing(t *testing.T) {
	defer leaktest.VerifyNone(t)
	tag := t.Name()
	c, err := cache.New[int](tag, 1<<20)
	require.NoError(t, err)
	defer c.Close()
	for i := range 10 {
		require.NoError(t, c.Put(i, buf(t, tag, 1000, 'h')))
	}
	tracker.SetTagLimit(tag, 20_000)
	defer tracker.SetTagLimit(tag, 0)
	for _, n := range []int{20_001, 1 << 40, math.MaxInt} {
		_, err := native.Alloc(tag, n)
		require.ErrorIs(t, err, native.ErrLimit)
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err = native.AllocContext(ctx, tag, n)
		cancel()
		require.ErrorIs(t, err, native.ErrLimit)
	}
	assert.Equal(t, int64(10), c.Stats().Entries)
	assert.Zero(t, c.Stats().Evictions)
}

// A reader that releases twice frees the cached buffer: the entry is then
// dropped at the next Get, which misses, and the cache's byte count
// follows. Nothing is freed twice.
func TestReaderReleasingTwice(t *testing.T) {
	defer leaktest.VerifyNone(t)
	tag := t.Name()
	c, err := cache.New[int](tag, 100)
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.Put(1, buf(t, tag, 10, 'r')))
	got, ok := c.Get(1)
	require.True(t, ok)
	require.NoError(t, got.Release())
	//membridge:ignore doublefree the test releases one reference too many on purpose: it drops the cache's own reference
	require.NoError(t, got.Release()) // one too many: the cache's reference
	assert.Zero(t, tracker.TagStats(tag).LiveBytes)
	_, ok = c.Get(1)
	assert.False(t, ok)
	s := c.Stats()
	assert.Zero(t, s.Entries)
	assert.Zero(t, s.Bytes)
	//membridge:ignore doublefree the test checks that a Release after the last reference is gone returns ErrFreed
	require.ErrorIs(t, got.Release(), native.ErrFreed)
}

// Goroutines racing to put one buffer, under one key and under others:
// exactly one Put moves it, those under its key are no-ops, the others get
// ErrMoved, and the memory is freed once, by the cache.
func TestConcurrentPutsOfOneBuffer(t *testing.T) {
	defer leaktest.VerifyNone(t)
	tag := t.Name()
	c, err := cache.New[int](tag, 1000)
	require.NoError(t, err)
	defer c.Close()
	b := buf(t, tag, 10, 'c')
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = c.Put(i%2, b)
		}()
	}
	wg.Wait()
	var ok, moved int
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, native.ErrMoved):
			moved++
		default:
			t.Errorf("Put: %v", err)
		}
	}
	assert.Equal(t, 8, ok+moved)
	assert.Equal(t, 4, moved, "the puts under the other key")
	assert.Equal(t, int64(1), c.Stats().Entries)
	require.ErrorIs(t, b.Free(), native.ErrMoved)
	require.NoError(t, c.Close())
	assert.Zero(t, tracker.TagStats(tag).LiveBytes)
}

// Errors carry one package prefix, the operation and the sizes, and end in
// the sentinel a caller branches on.
func TestPutErrorMessages(t *testing.T) {
	defer leaktest.VerifyNone(t)
	tag := t.Name()
	c, err := cache.New[int]("results", 100)
	require.NoError(t, err)
	big := buf(t, tag, 1000, 'b')
	assert.EqualError(t, c.Put(1, big), `cache: put 1000 bytes into cache "results" of 100: membridge: buffer larger than the cache`)
	require.NoError(t, big.Free())
	require.NoError(t, c.Close())
	b := buf(t, tag, 10, 'c')
	//membridge:ignore useafterfree the test checks that Put on a closed cache returns an error naming the cache
	assert.EqualError(t, c.Put(1, b), `cache: put into cache "results": membridge: cache closed`)
	require.NoError(t, b.Free())
}
