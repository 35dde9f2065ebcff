package tracker_test

import (
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/membridge/membridge/internal/testkit"
	"github.com/membridge/membridge/tracker"
	"github.com/membridge/membridge/tracker/internal/ledgertest"
	"github.com/membridge/membridge/tracker/leaktest"
)

// Kinds only these tests cache, so that what the owners linked into this
// binary (package native, for the examples) cache does not change the
// rows they look at.
var (
	kindCachedA = ledgertest.MustKind("cached-test-a")
	kindCachedB = ledgertest.MustKind("cached-test-b")
)

// fakeCache is an AllocatorCache that reports what a test tells it to and
// notes how it was trimmed.
type fakeCache struct {
	mu      sync.Mutex
	rows    []tracker.Cached
	freed   int64              // what Trim returns
	trims   []tracker.Shortage // what Trim was told
	onTrim  func()             // called by Trim, if set
	entered chan struct{}      // if set, the first Cached signals it and waits on release
	release chan struct{}
	blocked atomic.Bool
}

func (f *fakeCache) Cached(dst []tracker.Cached) []tracker.Cached {
	if f.entered != nil && f.blocked.CompareAndSwap(false, true) {
		f.entered <- struct{}{}
		<-f.release
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return append(dst, f.rows...)
}

func (f *fakeCache) Trim(s tracker.Shortage) int64 {
	f.mu.Lock()
	f.trims = append(f.trims, s)
	fn, freed := f.onTrim, f.freed
	f.mu.Unlock()
	if fn != nil {
		fn()
	}
	return freed
}

func (f *fakeCache) setFreed(n int64) {
	f.mu.Lock()
	f.freed = n
	f.mu.Unlock()
}

func (f *fakeCache) trimmed() []tracker.Shortage {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.trims)
}

// testRows returns the rows of CachedStats of the kinds these tests cache.
func testRows() []tracker.Cached {
	return slices.DeleteFunc(tracker.CachedStats(), func(c tracker.Cached) bool {
		return c.Kind != kindCachedA && c.Kind != kindCachedB
	})
}

func TestCachedStatsSumsPerKindAndDeviceSorted(t *testing.T) {
	defer leaktest.VerifyNone(t)
	magazines := &fakeCache{rows: []tracker.Cached{
		{Kind: kindCachedB, Device: 1, Bytes: 4096, Blocks: 1},
		{Kind: kindCachedA, Device: -1, Bytes: 64, Blocks: 1},
		{Kind: kindCachedA, Device: 0, Bytes: 0, Blocks: 0}, // nothing: left out
		{Kind: kindCachedA, Device: -1, Bytes: 128, Blocks: 2},
	}}
	device := &fakeCache{rows: []tracker.Cached{
		{Kind: kindCachedB, Device: 0, Bytes: 1 << 20, Blocks: 3},
		{Kind: kindCachedB, Device: 1, Bytes: 8192, Blocks: 2},
		{Kind: kindCachedA, Device: -1, Bytes: 32, Blocks: 1},
	}}
	defer tracker.RegisterAllocatorCache("magazines", magazines)()
	defer tracker.RegisterAllocatorCache("device", device)()

	want := []tracker.Cached{
		{Kind: kindCachedA, Device: -1, Bytes: 224, Blocks: 4},
		{Kind: kindCachedB, Device: 0, Bytes: 1 << 20, Blocks: 3},
		{Kind: kindCachedB, Device: 1, Bytes: 12288, Blocks: 3},
	}
	assert.Equal(t, want, testRows())
	// Sorted across every kind, not only these tests'.
	all := tracker.CachedStats()
	assert.True(t, slices.IsSortedFunc(all, func(a, b tracker.Cached) int {
		if a.Kind != b.Kind {
			return int(a.Kind) - int(b.Kind)
		}
		return a.Device - b.Device
	}), "CachedStats not sorted: %v", all)
	for _, c := range all {
		assert.False(t, c.Bytes == 0 && c.Blocks == 0, "a row with nothing cached: %+v", c)
	}
}

// A cache's counts are its own word: the sums never wrap, a negative count
// adds nothing, and every negative device is the host's one row (two rows
// of one kind on "host" would be duplicate series in /metrics).
func TestCachedStatsTakesHostileCountsWithinReason(t *testing.T) {
	defer leaktest.VerifyNone(t)
	one := &fakeCache{rows: []tracker.Cached{
		{Kind: kindCachedA, Device: -1, Bytes: math.MaxInt64, Blocks: math.MaxInt64},
		{Kind: kindCachedA, Device: math.MinInt, Bytes: 10, Blocks: 1},
		{Kind: kindCachedB, Device: math.MaxInt, Bytes: -5, Blocks: 1},
		{Kind: kindCachedB, Device: 2, Bytes: -1, Blocks: -1}, // nothing once read as 0
	}}
	two := &fakeCache{rows: []tracker.Cached{
		{Kind: kindCachedA, Device: tracker.AllDevices, Bytes: math.MaxInt64, Blocks: 1},
		{Kind: kindCachedB, Device: math.MaxInt, Bytes: 7, Blocks: 1},
		{Kind: kindCachedB, Device: 0, Bytes: 3, Blocks: 1},
	}}
	defer tracker.RegisterAllocatorCache("one", one)()
	defer tracker.RegisterAllocatorCache("two", two)()

	assert.Equal(t, []tracker.Cached{
		{Kind: kindCachedA, Device: -1, Bytes: math.MaxInt64, Blocks: math.MaxInt64},
		{Kind: kindCachedB, Device: 0, Bytes: 3, Blocks: 1},
		{Kind: kindCachedB, Device: math.MaxInt, Bytes: 7, Blocks: 2},
	}, testRows())
	assert.Equal(t, int64(math.MaxInt64), tracker.CachedBytes(kindCachedA, tracker.AllDevices))
	assert.Equal(t, int64(10), tracker.CachedBytes(kindCachedB, tracker.AllDevices))
}

// A cache that returns a fresh slice instead of extending dst loses no
// other cache's rows.
type freshSliceCache struct{ row tracker.Cached }

func (f freshSliceCache) Cached([]tracker.Cached) []tracker.Cached { return []tracker.Cached{f.row} }
func (freshSliceCache) Trim(tracker.Shortage) int64                { return 0 }

func TestCachedStatsKeepsRowsOfEveryCache(t *testing.T) {
	defer leaktest.VerifyNone(t)
	defer tracker.RegisterAllocatorCache("first", &fakeCache{rows: []tracker.Cached{{Kind: kindCachedA, Device: -1, Bytes: 1, Blocks: 1}}})()
	defer tracker.RegisterAllocatorCache("fresh", freshSliceCache{tracker.Cached{Kind: kindCachedB, Device: 0, Bytes: 2, Blocks: 1}})()
	defer tracker.RegisterAllocatorCache("last", &fakeCache{rows: []tracker.Cached{{Kind: kindCachedA, Device: -1, Bytes: 4, Blocks: 1}}})()
	assert.Equal(t, []tracker.Cached{
		{Kind: kindCachedA, Device: -1, Bytes: 5, Blocks: 2},
		{Kind: kindCachedB, Device: 0, Bytes: 2, Blocks: 1},
	}, testRows())
}

func TestCachedBytesByDevice(t *testing.T) {
	defer leaktest.VerifyNone(t)
	assert.Zero(t, tracker.CachedBytes(kindCachedA, tracker.AllDevices), "nothing registered yet")
	defer tracker.RegisterAllocatorCache("device", &fakeCache{rows: []tracker.Cached{
		{Kind: kindCachedA, Device: 0, Bytes: 100, Blocks: 1},
		{Kind: kindCachedA, Device: 1, Bytes: 20, Blocks: 1},
		{Kind: kindCachedA, Device: -1, Bytes: 3, Blocks: 1},
		{Kind: kindCachedB, Device: 0, Bytes: 4000, Blocks: 1},
	}})()
	for _, c := range []struct {
		kind   tracker.Kind
		device int
		want   int64
	}{
		{kindCachedA, 0, 100},
		{kindCachedA, 1, 20},
		{kindCachedA, -1, 3},
		{kindCachedA, tracker.AllDevices, 123},
		{kindCachedA, 2, 0},
		{kindCachedA, -3, 0}, // neither a device nor AllDevices
		{kindCachedA, math.MaxInt, 0},
		{kindCachedB, tracker.AllDevices, 4000},
		{tracker.Kind(tracker.MaxKinds + 3), tracker.AllDevices, 0},
	} {
		assert.Equal(t, c.want, tracker.CachedBytes(c.kind, c.device), "CachedBytes(%v, %d)", c.kind, c.device)
	}
}

func TestUnregisterAllocatorCacheIsIdempotent(t *testing.T) {
	defer leaktest.VerifyNone(t)
	a := &fakeCache{rows: []tracker.Cached{{Kind: kindCachedA, Device: -1, Bytes: 10, Blocks: 1}}, freed: 10}
	b := &fakeCache{rows: []tracker.Cached{{Kind: kindCachedA, Device: -1, Bytes: 5, Blocks: 1}}, freed: 5}
	unregisterA := tracker.RegisterAllocatorCache("shared-name", a)
	unregisterB := tracker.RegisterAllocatorCache("shared-name", b) // a name need not be unique
	defer unregisterB()
	assert.Equal(t, int64(15), tracker.CachedBytes(kindCachedA, -1))
	unregisterA()
	unregisterA() // again: b stays
	assert.Equal(t, int64(5), tracker.CachedBytes(kindCachedA, -1))
	tracker.Trim(tracker.Shortage{})
	assert.Empty(t, a.trimmed(), "an unregistered cache was trimmed")
	assert.Len(t, b.trimmed(), 1)
	unregisterB()
	assert.Empty(t, testRows())
}

// unregister returns only once no call of the cache is in flight, so an
// owner may free its cache's memory right after it.
func TestUnregisterWaitsForCallsInFlight(t *testing.T) {
	defer leaktest.VerifyNone(t)
	c := &fakeCache{
		rows:    []tracker.Cached{{Kind: kindCachedA, Device: -1, Bytes: 1, Blocks: 1}},
		entered: make(chan struct{}), release: make(chan struct{}),
	}
	unregister := tracker.RegisterAllocatorCache("slow", c)
	read := make(chan []tracker.Cached)
	go func() { read <- testRows() }()
	<-c.entered // CachedStats is inside c.Cached

	unregistered := make(chan struct{})
	go func() { unregister(); close(unregistered) }()
	// Give unregister every chance to return early: it has taken c out of
	// the list once a new reader no longer sees c (later calls of c's
	// Cached do not block).
	require.True(t, testkit.Until(func() bool { return len(testRows()) == 0 }, nil))
	select {
	case <-unregistered:
		t.Fatal("unregister returned while the cache's Cached was running")
	default:
	}
	close(c.release)
	assert.Len(t, <-read, 1, "the call in flight finishes with what it read")
	<-unregistered
}

func TestRegisterNilAllocatorCachePanics(t *testing.T) {
	defer leaktest.VerifyNone(t)
	assert.PanicsWithValue(t, `membridge: tracker.RegisterAllocatorCache("magazines", nil): no cache to register`, func() {
		tracker.RegisterAllocatorCache("magazines", nil)
	})
	assert.NotPanics(t, func() { tracker.CachedStats() })
}

func TestTrimPassesTheShortageAndSums(t *testing.T) {
	defer leaktest.VerifyNone(t)
	a := &fakeCache{freed: 100}
	b := &fakeCache{freed: 250}
	liar := &fakeCache{freed: -1 << 40} // a negative count adds nothing
	defer tracker.RegisterAllocatorCache("a", a)()
	defer tracker.RegisterAllocatorCache("b", b)()
	defer tracker.RegisterAllocatorCache("liar", liar)()

	s := tracker.Shortage{Bytes: 300, Cause: tracker.ShortOfMemory, Kind: kindCachedA, Tag: "decode"}
	// At least: caches linked into the binary may give back some too.
	assert.GreaterOrEqual(t, tracker.Trim(s), int64(350))
	for _, c := range []*fakeCache{a, b, liar} {
		assert.Equal(t, []tracker.Shortage{s}, c.trimmed())
	}
	// A limit's shortage reaches the caches as it is: they decide.
	limit := tracker.Shortage{Bytes: 1, Cause: tracker.ShortTagLimit, Tag: "budget"}
	tracker.Trim(limit)
	assert.Equal(t, limit, a.trimmed()[1])

	huge := &fakeCache{freed: math.MaxInt64}
	defer tracker.RegisterAllocatorCache("huge", huge)()
	assert.Equal(t, int64(math.MaxInt64), tracker.Trim(tracker.Shortage{}), "the sum saturates")
}

// The allocator out of memory: what the caches hold is no one's, so they
// are trimmed before the reliefs of RegisterRelief (user caches, kept
// pages) are asked for anything.
func TestRelieveTrimsAllocatorCachesBeforeReliefs(t *testing.T) {
	defer leaktest.VerifyNone(t)
	var mu sync.Mutex
	var order []string
	note := func(s string) {
		mu.Lock()
		order = append(order, s)
		mu.Unlock()
	}
	c := &fakeCache{onTrim: func() { note("allocator cache") }, freed: 10}
	defer tracker.RegisterAllocatorCache("magazines", c)()
	defer tracker.RegisterRelief("user cache", func(tracker.Shortage) int64 { note("relief"); return 0 })()

	before := tracker.Pressure()
	freed := tracker.Relieve(tracker.Shortage{Cause: tracker.ShortOfMemory})
	assert.GreaterOrEqual(t, freed, int64(10))
	mu.Lock()
	assert.Equal(t, []string{"allocator cache", "relief"}, order)
	order = nil
	mu.Unlock()
	assert.GreaterOrEqual(t, tracker.Pressure().ReliefBytes-before.ReliefBytes, int64(10), "the trimmed bytes count as relieved")

	// Enough from the caches: the reliefs are not asked.
	c.setFreed(1 << 20)
	assert.GreaterOrEqual(t, tracker.Relieve(tracker.Shortage{Bytes: 4096, Cause: tracker.ShortOfMemory}), int64(1<<20))
	mu.Lock()
	assert.Equal(t, []string{"allocator cache"}, order)
	mu.Unlock()
}

// A limit counts live bytes, which cached bytes are not: trimming would
// not make room under it, so a limit's shortage leaves the caches alone.
func TestRelieveDoesNotTrimForALimit(t *testing.T) {
	defer leaktest.VerifyNone(t)
	c := &fakeCache{freed: 1 << 20}
	defer tracker.RegisterAllocatorCache("magazines", c)()
	var reliefs atomic.Int64
	defer tracker.RegisterRelief("user cache", func(tracker.Shortage) int64 { reliefs.Add(1); return 0 })()

	tracker.Relieve(tracker.Shortage{Bytes: 64, Cause: tracker.ShortKindLimit, Kind: kindCachedA})
	tracker.Relieve(tracker.Shortage{Bytes: 64, Cause: tracker.ShortTagLimit, Tag: testkit.UniqueTag(t)})
	assert.Empty(t, c.trimmed())
	assert.Equal(t, int64(2), reliefs.Load(), "the reliefs still run")
}

// Cached memory is no one's: no record, so no leak, whatever a cache holds.
func TestCachedBytesAreNotALeak(t *testing.T) {
	defer leaktest.VerifyNone(t)
	defer tracker.RegisterAllocatorCache("magazines", &fakeCache{rows: []tracker.Cached{
		{Kind: kindCHeap, Device: -1, Bytes: 1 << 20, Blocks: 16},
		{Kind: kindDevice, Device: 0, Bytes: 64 << 20, Blocks: 2},
	}})()
	require.NotEmpty(t, tracker.CachedStats())

	var rec leaktest.Recorder
	rec.TestName = t.Name()
	leaktest.VerifyNone(&rec, leaktest.MaxWait(0))
	assert.Empty(t, rec.Reports())
	assert.NoError(t, leaktest.Find(leaktest.MaxWait(0)))
}

// Owners register and unregister while readers read and reliefs trim.
func TestAllocatorCachesConcurrently(t *testing.T) {
	defer leaktest.VerifyNone(t)
	const goroutines, rounds = 8, 200
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range rounds {
				c := &fakeCache{rows: []tracker.Cached{{Kind: kindCachedA, Device: g % 3, Bytes: int64(i + 1), Blocks: 1}}, freed: 1}
				unregister := tracker.RegisterAllocatorCache("churn", c)
				for _, row := range tracker.CachedStats() {
					if row.Kind == kindCachedA && (row.Bytes <= 0 || row.Blocks <= 0) {
						t.Errorf("row with nothing in it: %+v", row)
					}
				}
				tracker.CachedBytes(kindCachedA, tracker.AllDevices)
				tracker.Trim(tracker.Shortage{Bytes: 1})
				unregister()
				if i%2 == 0 {
					unregister()
				}
			}
		}()
	}
	wg.Wait()
	assert.Empty(t, testRows(), "every cache was unregistered")
}

// panickingCache fails in both methods, as a buggy owner's cache might.
type panickingCache struct{}

func (panickingCache) Cached([]tracker.Cached) []tracker.Cached { panic("magazine corrupt") }
func (panickingCache) Trim(tracker.Shortage) int64              { panic("magazine corrupt") }

// A cache that panics reaches its caller, and leaves no call counted in
// flight: unregistering it, or any other cache, still returns.
func TestPanickingAllocatorCacheCanBeUnregistered(t *testing.T) {
	defer leaktest.VerifyNone(t)
	other := tracker.RegisterAllocatorCache("other", &fakeCache{})
	unregister := tracker.RegisterAllocatorCache("buggy", panickingCache{})
	assert.PanicsWithValue(t, "magazine corrupt", func() { tracker.CachedStats() })
	assert.PanicsWithValue(t, "magazine corrupt", func() { tracker.Trim(tracker.Shortage{}) })
	unregister()
	other()
	assert.NotPanics(t, func() { tracker.CachedStats() })
}
