package cache_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/membridge/membridge/cache"
	"github.com/membridge/membridge/native"
	"github.com/membridge/membridge/tracker"
	"github.com/membridge/membridge/tracker/leaktest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMain(m *testing.M) { leaktest.VerifyTestMain(m) }

func buf(t testing.TB, tag string, n int, fill byte) *native.Buffer {
	b, err := native.Alloc(tag, n)
	require.NoError(t, err)
	for i := range b.Bytes() {
		b.Bytes()[i] = fill
	}
	return b
}

func read(t testing.TB, b *native.Buffer) string {
	v, err := b.View(0, b.Len())
	require.NoError(t, err)
	defer v.Release()
	return string(v.Bytes())
}

func TestEvictsByBytesAndFreesAtOnce(t *testing.T) {
	defer leaktest.VerifyNone(t)
	tag := t.Name()
	c, err := cache.New[string](tag, 300)
	require.NoError(t, err)
	defer c.Close()
	for i, k := range []string{"a", "b", "c"} {
		require.NoError(t, c.Put(k, buf(t, tag, 100, byte('a'+i))))
	}
	if b, ok := c.Get("a"); !ok { // a is now the most recent
		t.Fatal("miss on a")
	} else {
		b.Release()
	}
	if err := c.Put("d", buf(t, tag, 150, 'd')); err != nil { // evicts b, then c
		t.Fatal(err)
	}
	for k, want := range map[string]bool{"a": true, "b": false, "c": false, "d": true} {
		b, ok := c.Get(k)
		assert.Equal(t, want, ok, "Get(%q) hit", k)
		if ok {
			b.Release()
		}
	}
	// Evicted buffers are freed now, not when the collector runs.
	if s := tracker.TagStats(tag); s.LiveBytes != 250 || s.LiveCount != 2 {
		t.Errorf("ledger after eviction: %d bytes in %d buffers, want 250 in 2", s.LiveBytes, s.LiveCount)
	}
	s := c.Stats()
	if s.Evictions != 2 || s.Bytes != 250 || s.Entries != 2 || s.Hits != 3 || s.Misses != 2 {
		t.Errorf("stats %+v", s)
	}
}

func TestReaderKeepsEvictedBufferUntilRelease(t *testing.T) {
	defer leaktest.VerifyNone(t)
	tag := t.Name()
	c, _ := cache.New[int](tag, 100)
	defer c.Close()
	c.Put(1, buf(t, tag, 100, 'x'))
	b, ok := c.Get(1)
	require.True(t, ok, "miss")
	c.Put(2, buf(t, tag, 100, 'y')) // evicts 1 while we read it
	if got := read(t, b); got[0] != 'x' {
		t.Fatalf("read %q", got[:1])
	}
	require.EqualValues(t, 2, tracker.TagStats(tag).LiveCount, "live buffers while a reader holds the evicted one")
	b.Release()
	require.EqualValues(t, 1, tracker.TagStats(tag).LiveCount, "live buffers after the reader released")
}

func TestTTL(t *testing.T) {
	defer leaktest.VerifyNone(t)
	tag := t.Name()
	now := time.Unix(1000, 0)
	c, _ := cache.New[string](tag, 1<<20, cache.TTL(time.Minute), cache.Clock(func() time.Time { return now }))
	defer c.Close()
	c.Put("old", buf(t, tag, 10, 'o'))
	now = now.Add(30 * time.Second)
	c.Put("new", buf(t, tag, 10, 'n'))
	now = now.Add(40 * time.Second) // old is 70 s old, new 40 s
	if _, ok := c.Get("old"); ok {
		t.Error("hit on an expired entry")
	}
	if b, ok := c.Get("new"); !ok {
		t.Error("miss on a live entry")
	} else {
		b.Release()
	}
	now = now.Add(time.Minute)
	assert.EqualValues(t, 1, c.Expire(), "Expire removed")
	if s := c.Stats(); s.Expirations != 2 || s.Entries != 0 || s.Bytes != 0 {
		t.Errorf("stats %+v", s)
	}
	assert.EqualValues(t, 0, tracker.TagStats(tag).LiveCount, "buffers still live after expiry")
}

func TestReliefEvicts(t *testing.T) {
	defer leaktest.VerifyNone(t)
	tag := t.Name()
	c, _ := cache.New[int](tag, 1<<20)
	defer c.Close()
	for i := range 10 {
		c.Put(i, buf(t, tag, 1000, 'r'))
	}
	// An allocation over a limit makes the ledger ask the cache for room.
	tracker.SetTagLimit(tag, 10500)
	defer tracker.SetTagLimit(tag, 0)
	b, err := native.Alloc(tag, 2000)
	require.NoError(t, err, "the cache should have made room")
	b.Free()
	s := c.Stats()
	if s.Evictions < 2 || s.Entries > 8 {
		t.Errorf("after relief: %+v", s)
	}
	if _, ok := c.Get(0); ok {
		t.Error("the least recently used entry survived the relief")
	}
}

func TestPutErrors(t *testing.T) {
	defer leaktest.VerifyNone(t)
	tag := t.Name()
	if _, err := cache.New[int]("", 0); err == nil {
		t.Error("New with MaxBytes 0 succeeded")
	}
	c, _ := cache.New[int](tag, 10)
	big := buf(t, tag, 11, 'b')
	assert.ErrorIs(t, c.Put(1, big), cache.ErrTooLarge, "Put over MaxBytes")
	big.Free() // still ours
	c.Close()
	//membridge:ignore doublefree the test checks that a second Close does nothing
	c.Close()
	b := buf(t, tag, 5, 'c')
	//membridge:ignore useafterfree the test checks that Put on a closed cache returns ErrClosed
	assert.ErrorIs(t, c.Put(1, b), cache.ErrClosed, "Put after Close")
	b.Free()
	for _, s := range cache.All() {
		if s.Name == tag {
			t.Error("closed cache still registered")
		}
	}
}

func TestReplaceReleasesOld(t *testing.T) {
	defer leaktest.VerifyNone(t)
	tag := t.Name()
	c, _ := cache.New[string](tag, 100)
	defer c.Close()
	c.Put("k", buf(t, tag, 10, '1'))
	c.Put("k", buf(t, tag, 10, '2'))
	assert.EqualValues(t, 1, tracker.TagStats(tag).LiveCount, "live buffers after replacing")
	b, _ := c.Get("k")
	assert.EqualValues(t, "2222222222", read(t, b), "replacement not visible")
	b.Release()
	assert.EqualValues(t, 0, c.Stats().Evictions, "a replacement counted as an eviction")
}

func TestConcurrentUse(t *testing.T) {
	defer leaktest.VerifyNone(t)
	tag := t.Name()
	c, _ := cache.New[int](tag, 64*20, cache.TTL(time.Hour))
	defer c.Close()
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 500 {
				k := (g*7 + i) % 50
				if b, ok := c.Get(k); ok {
					if read(t, b)[0] != byte(k) {
						t.Error("wrong contents")
					}
					b.Release()
					continue
				}
				assert.NoError(t, c.Put(k, buf(t, tag, 64, byte(k))))
			}
		}()
	}
	wg.Wait()
	if s := c.Stats(); s.Bytes > 64*20 || s.Hits+s.Misses != 2000 {
		t.Errorf("stats %+v", s)
	}
}

// A cache of recent results keyed by request content.
func ExampleCache() {
	c, err := cache.New[string]("results", 64<<20, cache.TTL(time.Minute))
	if err != nil {
		panic(err)
	}
	defer c.Close()

	result := func(req string) string {
		if b, ok := c.Get(req); ok {
			defer b.Release()
			v, _ := b.View(0, b.Len())
			defer v.Release()
			return "cached " + string(v.Bytes())
		}
		out := fmt.Sprintf("len=%d", len(req))
		b, _ := native.Alloc("results", len(out))
		copy(b.Bytes(), out)
		if err := c.Put(req, b); err != nil {
			b.Free()
		}
		return "computed " + out
	}
	fmt.Println(result("hello"))
	fmt.Println(result("hello"))
	s := c.Stats()
	fmt.Println(s.Hits, s.Misses, s.Entries, s.Bytes)
	// Output:
	// computed len=5
	// cached len=5
	// 1 1 1 5
}

func ExampleCache_Expire() {
	now := time.Unix(0, 0)
	c, _ := cache.New[int]("sessions", 1<<20, cache.TTL(time.Minute), cache.Clock(func() time.Time { return now }))
	defer c.Close()
	b, _ := native.Alloc("sessions", 32)
	c.Put(1, b)
	now = now.Add(2 * time.Minute)
	fmt.Println(c.Expire(), c.Stats().Bytes) // the buffer is freed now
	// Output: 1 0
}

func ExampleCache_Remove() {
	c, _ := cache.New[string]("thumbnails", 1<<20)
	defer c.Close()
	b, _ := native.Alloc("thumbnails", 64)
	c.Put("a.png", b)
	fmt.Println(c.Remove("a.png"), c.Remove("a.png"))
	// Output: true false
}
