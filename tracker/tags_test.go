package tracker_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/membridge/membridge/internal/testkit"
	"github.com/membridge/membridge/tracker"
	"github.com/membridge/membridge/tracker/external"
	"github.com/membridge/membridge/tracker/leaktest"
)

// capTags sets MaxTags to leave room for room more tags than the ledger
// keeps now (other tests' tags stay kept) until the test ends.
func capTags(t *testing.T, room int) {
	t.Helper()
	if tracker.TagsKept() == 0 { // a cap of 0 is none: keep one tag first
		r, err := tracker.AllocateUnwatched(tracker.Request{Kind: kindCHeap, Device: -1, Tag: testkit.UniqueTag(t), Bytes: 1}, nil, nil)
		require.NoError(t, err)
		r.Release()
	}
	old := tracker.SetMaxTags(tracker.TagsKept() + room)
	t.Cleanup(func() { tracker.SetMaxTags(old) })
}

// tagsOf returns the live and allocated bytes of kind k by tag, as
// AllStats gives them, for the tags that start with prefix and OverflowTag
// (under -count, a test's kind holds its earlier runs' tags too).
func tagsOf(k tracker.Kind, prefix string) (live, allocated map[string]int64) {
	live, allocated = map[string]int64{}, map[string]int64{}
	for _, s := range tracker.AllStats() {
		if s.Kind == k && (strings.HasPrefix(s.Tag, prefix) || s.Tag == tracker.OverflowTag) {
			live[s.Tag] += s.LiveBytes
			allocated[s.Tag] += s.AllocatedBytes
		}
	}
	return live, allocated
}

func sum(m map[string]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}

// Past the cap, new tags are counted under OverflowTag: the ledger keeps
// cap tags and OverflowTag, counts each overflowed tag once however often
// it comes back, and the sum over tags stays the kind's total.
func TestTagsPastTheCapCountUnderOverflowTag(t *testing.T) {
	defer leaktest.VerifyNone(t)
	const room, n = 20, 30
	k := newKind(t, "")
	capTags(t, room)
	overflowed := tracker.TagsOverflowed()
	prefix := testkit.UniqueTag(t) + "/"
	_, allocatedBefore := tagsOf(k, prefix)
	kindBefore := tracker.KindStats(k)
	var recs []*tracker.Record
	var want int64
	for pass := range 2 { // the second pass makes every tag's string anew
		for i := range room + n {
			tag := fmt.Sprintf("%s%d", prefix, i)
			r, err := tracker.AllocateUnwatched(tracker.Request{Kind: k, Device: -1, Tag: tag, Bytes: int64(i + 1), Addr: 0x1000}, nil, nil)
			require.NoError(t, err)
			recs = append(recs, r)
			want += int64(i + 1)
			if i < room {
				assert.Equal(t, tag, r.Tag(), "pass %d", pass)
			} else {
				assert.Equal(t, tracker.OverflowTag, r.Tag(), "pass %d", pass)
			}
		}
	}

	assert.Equal(t, tracker.MaxTags(), tracker.TagsKept(), "the ledger keeps cap tags")
	assert.Equal(t, int64(n), tracker.TagsOverflowed()-overflowed, "each tag past the cap counted once")
	live, allocated := tagsOf(k, prefix)
	assert.Len(t, live, room+1, "the test's tags: its own ones within the cap, and OverflowTag")
	ks := tracker.KindStats(k)
	assert.Equal(t, want, ks.LiveBytes)
	assert.Equal(t, ks.LiveBytes, sum(live), "sum over tags = kind total")
	assert.Equal(t, ks.AllocatedBytes-kindBefore.AllocatedBytes, sum(allocated)-sum(allocatedBefore))
	assert.Equal(t, int64(2*(room+1+room+n)*n/2), live[tracker.OverflowTag])
	assert.Zero(t, tracker.TagStats(fmt.Sprintf("%s%d", prefix, room)).LiveBytes, "an overflowed tag has no counters of its own")
	assert.Equal(t, int64(2*3), tracker.TagStats(prefix+"2").LiveBytes)

	for _, r := range recs {
		require.True(t, r.Release())
	}
	live, _ = tagsOf(k, prefix)
	assert.Zero(t, sum(live))
	assert.Zero(t, tracker.KindStats(k).LiveBytes)
}

// Allocations from many goroutines under tags made anew each time, more
// than the cap, some shared between goroutines: the cap holds exactly, the
// overflow counter counts each tag past it once, and the totals are exact.
func TestTagCapUnderConcurrency(t *testing.T) {
	defer leaktest.VerifyNone(t)
	const room, distinct, workers, rounds = 50, 200, 8, 4
	k := newKind(t, "")
	capTags(t, room)
	overflowed := tracker.TagsOverflowed()
	prefix := testkit.UniqueTag(t) + "/"
	_, allocatedBefore := tagsOf(k, prefix)
	kindBefore := tracker.KindStats(k)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range rounds {
				for i := range distinct {
					tag := fmt.Sprintf("%s%d", prefix, (i+w*7+r)%distinct)
					rec, err := tracker.AllocateUnwatched(tracker.Request{Kind: k, Device: -1, Tag: tag, Bytes: 10, Addr: 0x1000}, nil, nil)
					if !assert.NoError(t, err) {
						return
					}
					if i%3 == 0 {
						rec.Release()
					} else {
						defer rec.Release()
					}
				}
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, tracker.MaxTags(), tracker.TagsKept())
	assert.Equal(t, int64(distinct-room), tracker.TagsOverflowed()-overflowed)
	live, allocated := tagsOf(k, prefix)
	assert.Len(t, allocated, room+1)
	ks := tracker.KindStats(k)
	assert.Equal(t, int64(workers*rounds*distinct*10), ks.AllocatedBytes-kindBefore.AllocatedBytes)
	assert.Equal(t, ks.AllocatedBytes-kindBefore.AllocatedBytes, sum(allocated)-sum(allocatedBefore))
	assert.Equal(t, ks.LiveBytes, sum(live))
}

// Tags no Prometheus label or dashboard could take are counted under
// OverflowTag whatever the cap; the empty tag and tags up to MaxTagLen
// bytes of any valid UTF-8 are kept.
func TestHostileTags(t *testing.T) {
	defer leaktest.VerifyNone(t)
	k := newKind(t, "")
	huge := strings.Repeat("x", 1<<20)
	exact := testkit.UniqueTag(t)
	exact += strings.Repeat("é", (tracker.MaxTagLen-len(exact))/2)
	exact += strings.Repeat("z", tracker.MaxTagLen-len(exact))
	for _, c := range []struct {
		name, tag string
		kept      bool
	}{
		{"empty", "", true},
		{"NUL and newline", "a\x00b\nc", true},
		{"MaxTagLen bytes", exact, true},
		{"one byte too long", strings.Repeat("y", tracker.MaxTagLen+1), false},
		{"huge", huge, false},
		{"invalid UTF-8", "\xff\xfe" + testkit.UniqueTag(t), false},
		{"a cut rune", "é"[:1], false},
		{"OverflowTag by name", tracker.OverflowTag, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			overflowed := tracker.TagsOverflowed()
			r, err := tracker.AllocateUnwatched(tracker.Request{Kind: k, Device: -1, Tag: c.tag, Bytes: 7, Addr: 0x1000}, nil, nil)
			require.NoError(t, err)
			defer r.Release()
			if c.kept {
				assert.Equal(t, c.tag, r.Tag())
				assert.GreaterOrEqual(t, tracker.TagStats(c.tag).LiveBytes, int64(7))
				assert.Equal(t, overflowed, tracker.TagsOverflowed())
				return
			}
			assert.Equal(t, tracker.OverflowTag, r.Tag())
			if c.tag == tracker.OverflowTag {
				assert.Equal(t, overflowed, tracker.TagsOverflowed(), "the reserved name is no overflowed tag")
			} else {
				assert.Zero(t, tracker.TagStats(c.tag).LiveBytes)
				assert.LessOrEqual(t, tracker.TagsOverflowed()-overflowed, int64(1), "counted once, or before")
			}
			// A limit cannot be set on a tag the ledger never keeps.
			tracker.SetTagLimit(c.tag, 1)
			if c.tag != tracker.OverflowTag {
				assert.Zero(t, tracker.TagLimit(c.tag))
			}
			tracker.SetTagLimit(c.tag, 0)
		})
	}
	live, _ := tagsOf(k, "")
	for tag := range live {
		assert.LessOrEqual(t, len(tag), tracker.MaxTagLen)
	}
}

// A limit reserves its tag a place, past a full cap: set before the tag's
// first use, it is enforced from the first allocation; set on a tag that
// overflowed, it counts the tag under its own name from then on, and what
// was reserved before stays with OverflowTag. Removing a limit makes no
// place.
func TestTagLimitReservesAPlace(t *testing.T) {
	defer leaktest.VerifyNone(t)
	capTags(t, 0)
	kept := tracker.TagsKept()
	budget, late, none := testkit.UniqueTag(t), testkit.UniqueTag(t), testkit.UniqueTag(t)

	tracker.SetTagLimit(none, 0)
	assert.Equal(t, kept, tracker.TagsKept(), "removing a limit makes no place")
	assert.Zero(t, tracker.TagLimit(none))

	tracker.SetTagLimit(budget, 100)
	defer tracker.SetTagLimit(budget, 0)
	assert.Equal(t, kept+1, tracker.TagsKept(), "a limit's tag is kept past the cap")
	_, err := tracker.AllocateUnwatched(tracker.Request{Kind: kindCHeap, Device: -1, Tag: budget, Bytes: 150}, nil, nil)
	var le *tracker.LimitError
	require.ErrorAs(t, err, &le)
	assert.True(t, le.ByTag)
	assert.Equal(t, budget, le.Tag)
	r, err := tracker.AllocateUnwatched(tracker.Request{Kind: kindCHeap, Device: -1, Tag: budget, Bytes: 60}, nil, nil)
	require.NoError(t, err)
	defer r.Release()
	assert.Equal(t, int64(60), tracker.TagStats(budget).LiveBytes)

	// late overflows; the same string is then in the entry cache.
	early, err := tracker.AllocateUnwatched(tracker.Request{Kind: kindCHeap, Device: -1, Tag: late, Bytes: 30}, nil, nil)
	require.NoError(t, err)
	assert.Equal(t, tracker.OverflowTag, early.Tag())
	overflowLive := tracker.TagStats(tracker.OverflowTag).LiveBytes

	tracker.SetTagLimit(late, 40)
	defer tracker.SetTagLimit(late, 0)
	now, err := tracker.AllocateUnwatched(tracker.Request{Kind: kindCHeap, Device: -1, Tag: late, Bytes: 30}, nil, nil)
	require.NoError(t, err)
	defer now.Release()
	assert.Equal(t, late, now.Tag(), "counted under its own name once limited")
	assert.Equal(t, int64(30), tracker.TagStats(late).LiveBytes, "the earlier 30 bytes stay outside the limit")
	_, err = tracker.AllocateUnwatched(tracker.Request{Kind: kindCHeap, Device: -1, Tag: late, Bytes: 20}, nil, nil)
	require.ErrorIs(t, err, tracker.ErrLimit)
	require.True(t, early.Release())
	assert.Equal(t, overflowLive-30, tracker.TagStats(tracker.OverflowTag).LiveBytes, "given back where it was counted")
	assert.Equal(t, int64(30), tracker.TagStats(late).LiveBytes)
}

// Raising the cap lets a tag in that overflowed, even one whose string the
// entry cache holds.
func TestRaisingTheCapLetsTagsIn(t *testing.T) {
	defer leaktest.VerifyNone(t)
	require.Equal(t, 1000, tracker.MaxTags(), "the default, restored by every test that changes it")
	capTags(t, 0)
	tag := testkit.UniqueTag(t)
	r, err := tracker.AllocateUnwatched(tracker.Request{Kind: kindCHeap, Device: -1, Tag: tag, Bytes: 1}, nil, nil)
	require.NoError(t, err)
	defer r.Release()
	require.Equal(t, tracker.OverflowTag, r.Tag())
	tracker.SetMaxTags(tracker.MaxTags() + 1)
	r2, err := tracker.AllocateUnwatched(tracker.Request{Kind: kindCHeap, Device: -1, Tag: tag, Bytes: 1}, nil, nil)
	require.NoError(t, err)
	defer r2.Release()
	assert.Equal(t, tag, r2.Tag())

	// Lowered below the tags kept, the cap keeps them and refuses new ones.
	tracker.SetMaxTags(tracker.TagsKept() - 1)
	r4, err := tracker.AllocateUnwatched(tracker.Request{Kind: kindCHeap, Device: -1, Tag: tag, Bytes: 1}, nil, nil)
	require.NoError(t, err)
	defer r4.Release()
	assert.Equal(t, tag, r4.Tag())
	r5, err := tracker.AllocateUnwatched(tracker.Request{Kind: kindCHeap, Device: -1, Tag: testkit.UniqueTag(t), Bytes: 1}, nil, nil)
	require.NoError(t, err)
	defer r5.Release()
	assert.Equal(t, tracker.OverflowTag, r5.Tag())

	// 0 removes the cap; a negative cap is taken as 0.
	tracker.SetMaxTags(-1)
	assert.Zero(t, tracker.MaxTags())
	r3, err := tracker.AllocateUnwatched(tracker.Request{Kind: kindCHeap, Device: -1, Tag: testkit.UniqueTag(t), Bytes: 1}, nil, nil)
	require.NoError(t, err)
	defer r3.Release()
	assert.NotEqual(t, tracker.OverflowTag, r3.Tag())
}

// The tags of an outside counter (the C API's) are capped like any other:
// those past the cap are counted under OverflowTag, and stay counted there
// when the cap is raised, so what was added is taken back from where it was.
func TestExternalTagsRespectTheCap(t *testing.T) {
	const room, n = 5, 10
	k := newKind(t, "")
	capTags(t, room)
	overflowed := tracker.TagsOverflowed()
	prefix := testkit.UniqueTag(t) + "/"
	var mu sync.Mutex
	var live int64 = 100
	x := external.New(k, func(report func(string, external.Counts)) {
		mu.Lock()
		defer mu.Unlock()
		for i := range room + n {
			report(fmt.Sprintf("%s%d", prefix, i), external.Counts{LiveBytes: live, LiveCount: live / 100, AllocatedBytes: 100, AllocatedCount: 1})
		}
	})
	x.Sync()
	assert.Equal(t, tracker.MaxTags(), tracker.TagsKept())
	assert.Equal(t, int64(n), tracker.TagsOverflowed()-overflowed)
	byTag, _ := tagsOf(k, prefix)
	assert.Len(t, byTag, room+1)
	assert.Equal(t, int64(n*100), byTag[tracker.OverflowTag])
	assert.Equal(t, int64((room+n)*100), tracker.KindStats(k).LiveBytes)
	assert.Equal(t, tracker.KindStats(k).LiveBytes, sum(byTag))

	tracker.SetMaxTags(0)
	mu.Lock()
	live = 0
	mu.Unlock()
	x.Sync()
	byTag, _ = tagsOf(k, prefix)
	assert.Len(t, byTag, room+1, "outside tags stay where they were first counted")
	assert.Zero(t, sum(byTag))
	assert.Zero(t, tracker.KindStats(k).LiveBytes)
}
