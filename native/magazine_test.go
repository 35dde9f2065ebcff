package native

import (
	"math/rand/v2"
	"runtime/debug"
	"sync"
	"testing"

	"github.com/membridge/membridge/cext/leakcheck"
	"github.com/membridge/membridge/internal/testkit"
	"github.com/membridge/membridge/tracker"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// magazinesOn runs the rest of a test with the magazines in use: the test
// mode turns checking on, which turns them off. It empties them first and
// at the end, so that no test sees another's blocks, and stops automatic
// collections, whose idle trims would empty them in the middle of a test
// (runtime.GC and tracker.GC still collect).
func magazinesOn(t *testing.T) {
	t.Helper()
	prevRate := tracker.SetStackRate(0)
	prevCheck := tracker.SetChecking(false)
	prevGC := debug.SetGCPercent(-1)
	EmptyCache()
	t.Cleanup(func() {
		EmptyCache()
		debug.SetGCPercent(prevGC)
		tracker.SetChecking(prevCheck)
		tracker.SetStackRate(prevRate)
	})
}

func cachedHost() (bytes, blocks int64) {
	for _, c := range tracker.CachedStats() {
		if c.Kind == KindCHeap && c.Device == -1 {
			return c.Bytes, c.Blocks
		}
	}
	return 0, 0
}

func allocFree(t *testing.T, tag string, n, count int) {
	t.Helper()
	for range count {
		b, err := Alloc(tag, n)
		require.NoError(t, err)
		b.Bytes()[n-1] = 1
		require.NoError(t, b.Free())
	}
}

// Every size up to magMaxSize has a class that holds it and wastes at
// most 15 bytes or a fifth of the block; the classes grow.
func TestSizeClassesHoldTheirSizes(t *testing.T) {
	for n := 1; n <= magMaxSize; n++ {
		c := sizeClass(n)
		require.GreaterOrEqual(t, classSize[c], n, "%d bytes", n)
		if c > 0 {
			require.Less(t, classSize[c-1], n, "%d bytes: a smaller class holds it", n)
		}
		assert.LessOrEqual(t, classSize[c]-n, max(15, classSize[c]/5), "%d bytes waste too much of class %d", n, classSize[c])
	}
	for c := range magClasses {
		assert.GreaterOrEqual(t, int(classCap[c]), 2)
		assert.LessOrEqual(t, int(classCap[c]), magMaxBlocks)
	}
}

// A small Free puts its block in the magazine; the ledger shows it as
// cached, not live; EmptyCache gives it back to malloc (LeakSanitizer
// checks each block under make asan, leakcheck that none is lost).
func TestSmallBlocksAreCachedNotLive(t *testing.T) {
	defer leakcheck.Check(t)
	magazinesOn(t)
	tag := testkit.UniqueTag(t)
	allocFree(t, tag, 64, 5)
	bytes, blocks := cachedHost()
	assert.Positive(t, blocks)
	assert.GreaterOrEqual(t, bytes, int64(64))
	assert.Zero(t, tracker.TagStats(tag).LiveBytes, "a cached block is no one's")
	assert.Equal(t, bytes, tracker.CachedBytes(KindCHeap, -1))
	assert.Equal(t, bytes, tracker.CachedBytes(KindCHeap, tracker.AllDevices))
	assert.Equal(t, bytes, EmptyCache())
	bytes, blocks = cachedHost()
	assert.Zero(t, bytes)
	assert.Zero(t, blocks)
}

// A magazine holds at most its class's capacity: a run of frees drains
// half of it to malloc each time it fills.
func TestMagazinesAreBounded(t *testing.T) {
	defer leakcheck.Check(t)
	magazinesOn(t)
	tag := testkit.UniqueTag(t)
	for _, n := range []int{16, 64, 1000, 4096, magMaxSize} {
		c := sizeClass(n)
		var bufs []*Buffer
		for range 3 * magMaxBlocks {
			b, err := Alloc(tag, n)
			require.NoError(t, err)
			bufs = append(bufs, b)
		}
		for _, b := range bufs {
			require.NoError(t, b.Free())
		}
		for i := range mags {
			m := &mags[i]
			m.Lock()
			held := int(m.n[c])
			m.Unlock()
			assert.LessOrEqual(t, held, int(classCap[c]), "%d bytes, slot %d", n, i)
		}
	}
	bytes, _ := cachedHost()
	assert.LessOrEqual(t, bytes, int64(magSlots*magClasses*magClassBytes*2))
}

// In the checking mode the magazines are off: every block is malloc'd and
// freed on its own, so AddressSanitizer and valgrind see each one.
func TestCheckingModeBypassesTheMagazines(t *testing.T) {
	defer leakcheck.Check(t)
	magazinesOn(t)
	tracker.SetChecking(true)
	allocFree(t, testkit.UniqueTag(t), 64, 10)
	bytes, blocks := cachedHost()
	assert.Zero(t, bytes)
	assert.Zero(t, blocks)
}

// A block from a magazine is a malloc'd block of its class: AllocZeroed
// zeroes it even after a previous owner dirtied it, and HandToC gives C a
// pointer that free() takes (AddressSanitizer checks the free under make
// asan).
func TestMagazineBlocksAreMallocBlocks(t *testing.T) {
	defer leakcheck.Check(t)
	magazinesOn(t)
	tag := testkit.UniqueTag(t)
	for range 4 {
		b, err := Alloc(tag, 100)
		require.NoError(t, err)
		for i := range b.Bytes() {
			b.Bytes()[i] = 0xEE
		}
		require.NoError(t, b.Free())
		z, err := AllocZeroed(tag, 100)
		require.NoError(t, err)
		assert.Equal(t, make([]byte, 100), z.Bytes())
		require.NoError(t, z.Free())
	}
	b, err := Alloc(tag, 64)
	require.NoError(t, err)
	p, err := b.HandToC()
	require.NoError(t, err)
	cFree(uintptr(p), 64, false)
}

// A buffer aligned past malloc's alignment is exactly its size: it never
// enters a magazine, where a later request of the class's full size would
// overrun it.
func TestAlignedBuffersStayOutOfTheMagazines(t *testing.T) {
	defer leakcheck.Check(t)
	magazinesOn(t)
	tag := testkit.UniqueTag(t)
	b, err := Alloc(tag, 100, Align(64))
	require.NoError(t, err)
	require.Zero(t, uintptr(b.Ptr())%64)
	require.NoError(t, b.Free())
	_, blocks := cachedHost()
	assert.Zero(t, blocks)
	// Sizes past the bound come from malloc on their own too.
	allocFree(t, tag, magMaxSize+1, 3)
	_, blocks = cachedHost()
	assert.Zero(t, blocks)
}

// Out of memory, the ledger trims the allocator caches before anything
// else; a limit's refusal does not (cached blocks count against none).
func TestPressureTrimsTheMagazines(t *testing.T) {
	defer leakcheck.Check(t)
	magazinesOn(t)
	allocFree(t, testkit.UniqueTag(t), 64, 3)
	// Trim, not Relieve: Relieve's collection may trim idle magazines.
	assert.Zero(t, tracker.Trim(tracker.Shortage{Bytes: 1, Cause: tracker.ShortTagLimit, Tag: "other"}))
	_, blocks := cachedHost()
	assert.Positive(t, blocks, "a limit's shortage left the magazines alone")
	tracker.Relieve(tracker.Shortage{Bytes: 1})
	_, blocks = cachedHost()
	assert.Zero(t, blocks)
}

// A magazine no P touched between two collections goes back to malloc, so
// an idle program keeps nothing from it for long.
func TestIdleMagazinesAreTrimmed(t *testing.T) {
	defer leakcheck.Check(t)
	magazinesOn(t)
	allocFree(t, testkit.UniqueTag(t), 64, 3)
	testkit.Eventually(t, func(c *assert.CollectT) {
		tracker.GC()
		_, blocks := cachedHost()
		assert.Zero(c, blocks, "blocks still cached after idle collections")
	})
}

// Many goroutines allocate and free sizes of every class while others
// empty the caches and read them: -race checks the locking, leakcheck that
// no block is lost, and the ledger ends with nothing live.
func TestMagazinesUnderConcurrentUse(t *testing.T) {
	defer leakcheck.Check(t)
	magazinesOn(t)
	defer debug.SetGCPercent(debug.SetGCPercent(10)) // collections (idle trims) meanwhile too
	tag := testkit.UniqueTag(t)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(g), 17))
			var held []*Buffer
			for range 3000 {
				if len(held) > 0 && rng.IntN(2) == 0 {
					i := rng.IntN(len(held))
					b := held[i]
					held[i] = held[len(held)-1]
					held = held[:len(held)-1]
					assert.Equal(t, byte(b.Len()), b.Bytes()[b.Len()-1], "another owner wrote the block")
					assert.NoError(t, b.Free())
					continue
				}
				n := 1 + rng.IntN(magMaxSize)
				b, err := Alloc(tag, n)
				if err != nil {
					t.Error(err)
					return
				}
				b.Bytes()[n-1] = byte(n)
				held = append(held, b)
			}
			for _, b := range held {
				assert.NoError(t, b.Free())
			}
		}()
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
				EmptyCache()
				tracker.CachedStats()
			}
		}
	}()
	wg.Wait()
	close(stop)
	<-done
	s := tracker.TagStats(tag)
	assert.Zero(t, s.LiveBytes)
	assert.Zero(t, s.LiveCount)
	assert.Equal(t, s.AllocatedCount, s.FreedCount)
}
