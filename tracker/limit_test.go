package tracker_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/membridge/membridge/internal/childtest"
	"github.com/membridge/membridge/internal/testkit"
	"github.com/membridge/membridge/tracker"
	"github.com/membridge/membridge/tracker/external"
	"github.com/membridge/membridge/tracker/leaktest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// newKind registers a kind of its own for a test (the same one again under
// -count), so no other test's memory counts against its limit.
func newKind(t *testing.T, name string) tracker.Kind {
	t.Helper()
	k, err := tracker.RegisterKind("test-" + t.Name() + name)
	require.NoError(t, err)
	return k
}

// Reserve refuses any size over a kind's or a tag's limit with a
// *LimitError that wraps ErrLimit and says which limit, and a refused
// request leaves the totals, the peak and the key counters as they were.
func TestReserveRefusesHostileSizes(t *testing.T) {
	defer leaktest.VerifyNone(t)
	k := newKind(t, "")
	tag := testkit.UniqueTag(t)
	tracker.SetLimit(k, 1000)
	defer tracker.SetLimit(k, 0)
	tracker.SetTagLimit(tag, 500)
	defer tracker.SetTagLimit(tag, 0)
	held, err := tracker.AllocateUnwatched(tracker.Request{Kind: k, Device: -1, Tag: tag, Bytes: 1, Addr: 0x1000}, nil, nil)
	require.NoError(t, err)
	defer held.Release()
	kindHits, tagHits := tracker.KindStats(k).LimitHits, tracker.TagStats(tag).LimitHits

	for _, n := range []int64{501, 1000, 1001, 1 << 40, math.MaxInt64 - 1000, math.MaxInt64 - 1, math.MaxInt64} {
		_, err := tracker.AllocateUnwatched(tracker.Request{Kind: k, Device: -1, Tag: tag, Bytes: n}, nil, nil)
		require.ErrorIs(t, err, tracker.ErrLimit, "%d bytes", n)
		var le *tracker.LimitError
		require.ErrorAs(t, err, &le)
		assert.Equal(t, n, le.Bytes)
		assert.Equal(t, tag, le.Tag)
		assert.Equal(t, k, le.Kind)
		if n > 1000 {
			assert.False(t, le.ByTag, "%d bytes: the kind's limit refuses first when both would", n)
		}
		assert.Contains(t, err.Error(), "limit")
		assert.Equal(t, int64(1), tracker.KindStats(k).LiveBytes)
		assert.Equal(t, int64(1), tracker.TagStats(tag).LiveBytes)
	}
	other := testkit.UniqueTag(t) // the kind's limit alone
	_, err = tracker.AllocateUnwatched(tracker.Request{Kind: k, Device: -1, Tag: other, Bytes: math.MaxInt64}, nil, nil)
	var le *tracker.LimitError
	require.ErrorAs(t, err, &le)
	assert.False(t, le.ByTag)
	assert.Equal(t, int64(1000), le.Limit)
	r, err := tracker.AllocateUnwatched(tracker.Request{Kind: k, Device: -1, Tag: other, Bytes: 999}, nil, nil) // what fits is granted
	require.NoError(t, err)
	r.Release()
	assert.Equal(t, kindHits+6, tracker.KindStats(k).LimitHits, "one refusal per request over the kind's limit")
	assert.Equal(t, tagHits+2, tracker.TagStats(tag).LimitHits, "501 and 1000 bytes: refused by the tag's limit")

	_, err = tracker.AllocateUnwatched(tracker.Request{Kind: k, Device: -1, Tag: tag, Bytes: -1}, nil, nil)
	require.ErrorIs(t, err, tracker.ErrInvalidSize)
	assert.Contains(t, err.Error(), "-1 bytes")
	_, err = tracker.AllocateUnwatched(tracker.Request{Kind: k, Device: -1, Tag: tag, Bytes: math.MinInt64}, nil, nil)
	require.ErrorIs(t, err, tracker.ErrInvalidSize)
}

// Without a limit, the ledger still cannot count past MaxInt64: a request
// that would take a total there is refused with ErrOutOfMemory (no
// allocator has that much), and the totals stay as they were.
func TestReserveRefusesOverflowWithoutALimit(t *testing.T) {
	defer leaktest.VerifyNone(t)
	k := newKind(t, "")
	tag := testkit.UniqueTag(t)
	held, err := tracker.AllocateUnwatched(tracker.Request{Kind: k, Device: -1, Tag: tag, Bytes: 1, Addr: 0x1000}, nil, nil)
	require.NoError(t, err)
	defer held.Release()

	_, err = tracker.AllocateUnwatched(tracker.Request{Kind: k, Device: -1, Tag: tag, Bytes: math.MaxInt64}, nil, nil)
	require.ErrorIs(t, err, tracker.ErrOutOfMemory)
	assert.NotErrorIs(t, err, tracker.ErrLimit)
	assert.Contains(t, err.Error(), "9223372036854775807 bytes")

	// Half of what is left fits, twice does not: by the kind's total here,
	// by the tag's when the kinds differ.
	half := int64(math.MaxInt64/2 + 1)
	r, err := tracker.AllocateUnwatched(tracker.Request{Kind: k, Device: -1, Tag: testkit.UniqueTag(t), Bytes: half - 1}, nil, nil)
	require.NoError(t, err)
	_, err = tracker.AllocateUnwatched(tracker.Request{Kind: k, Device: -1, Tag: testkit.UniqueTag(t), Bytes: half}, nil, nil)
	require.ErrorIs(t, err, tracker.ErrOutOfMemory)
	r.Release()
	k2 := newKind(t, "2")
	r, err = tracker.AllocateUnwatched(tracker.Request{Kind: k, Device: -1, Tag: tag, Bytes: half}, nil, nil)
	require.NoError(t, err)
	_, err = tracker.AllocateUnwatched(tracker.Request{Kind: k2, Device: -1, Tag: tag, Bytes: half}, nil, nil)
	require.ErrorIs(t, err, tracker.ErrOutOfMemory)
	r.Release()
	assert.Equal(t, int64(0), tracker.KindStats(k2).LiveBytes)
	assert.Equal(t, int64(1), tracker.KindStats(k).LiveBytes)
	assert.Equal(t, int64(1), tracker.TagStats(tag).LiveBytes)
}

// A request over the limit never holds its bytes in the total, not even
// for a moment: while one goroutine keeps asking for what does not fit,
// requests that do fit are always granted, and the total never passes the
// limit.
func TestRefusedRequestsLeaveNoTransient(t *testing.T) {
	defer leaktest.VerifyNone(t)
	for _, byTag := range []bool{false, true} {
		k := newKind(t, "")
		tag := testkit.UniqueTag(t)
		if byTag {
			tracker.SetTagLimit(tag, 1000)
		} else {
			tracker.SetLimit(k, 1000)
		}
		held, err := tracker.AllocateUnwatched(tracker.Request{Kind: k, Device: -1, Tag: tag, Bytes: 1, Addr: 0x1000}, nil, nil)
		require.NoError(t, err)

		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		for _, n := range []int64{1000, math.MaxInt64} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for ctx.Err() == nil {
					if _, err := tracker.AllocateUnwatched(tracker.Request{Kind: k, Device: -1, Tag: tag, Bytes: n}, nil, nil); err == nil {
						t.Errorf("%d bytes granted with 1 live under a limit of 1000", n)
						return
					}
				}
			}()
		}
		deadline := time.Now().Add(200 * time.Millisecond)
		for i := 0; i < 50000 && time.Now().Before(deadline); i++ {
			r, err := tracker.AllocateUnwatched(tracker.Request{Kind: k, Device: -1, Tag: tag, Bytes: 10}, nil, nil)
			if err != nil {
				cancel()
				wg.Wait()
				held.Release()
				t.Fatalf("byTag %v: 10 bytes refused with 1 live under a limit of 1000, after %d grants: %v", byTag, i, err)
			}
			r.Release()
		}
		cancel()
		wg.Wait()
		held.Release()
		tracker.SetTagLimit(tag, 0)
		tracker.SetLimit(k, 0)
	}
}

// Counts an outside counter reports are untrusted: negative ones (a huge
// unsigned count converted) and huge ones move the totals without wrapping
// them, a limit then refuses what does not fit, and the totals come back
// when the counter does.
func TestExternalCountsCannotWrapTheTotals(t *testing.T) {
	k := newKind(t, "")
	tag := testkit.UniqueTag(t)
	var mu sync.Mutex
	var counts []external.Counts
	x := external.New(k, func(report func(string, external.Counts)) {
		mu.Lock()
		defer mu.Unlock()
		for i, c := range counts {
			report(tag+string(rune('a'+i)), c)
		}
	})
	set := func(cs ...external.Counts) {
		mu.Lock()
		counts = cs
		mu.Unlock()
		x.Sync()
	}
	huge := external.Counts{LiveBytes: math.MaxInt64, LiveCount: 1, PeakBytes: math.MaxInt64, AllocatedBytes: math.MaxInt64, AllocatedCount: 1}
	set(huge, huge)
	s := tracker.KindStats(k)
	assert.Equal(t, int64(math.MaxInt64), s.LiveBytes, "two huge counts saturate")
	assert.Equal(t, int64(math.MaxInt64), s.AllocatedBytes, "sums saturate on read")
	assert.Equal(t, int64(math.MaxInt64), tracker.LiveBytes(), "the sum over kinds saturates")
	_, err := tracker.AllocateUnwatched(tracker.Request{Kind: k, Device: -1, Tag: tag, Bytes: 1}, nil, nil)
	require.ErrorIs(t, err, tracker.ErrOutOfMemory, "a full total takes no more")
	tracker.SetLimit(k, 1<<20)
	_, err = tracker.AllocateUnwatched(tracker.Request{Kind: k, Device: -1, Tag: tag, Bytes: 1}, nil, nil)
	require.ErrorIs(t, err, tracker.ErrLimit)
	tracker.SetLimit(k, 0)

	neg := external.Counts{LiveBytes: -5, LiveCount: -1, AllocatedBytes: math.MinInt64}
	set(neg, neg)
	s = tracker.KindStats(k)
	assert.GreaterOrEqual(t, s.LiveBytes, int64(0), "negative outside counts are taken as 0")
	set(external.Counts{LiveBytes: 100, LiveCount: 1}, external.Counts{})
	tracker.SetLimit(k, 150)
	defer tracker.SetLimit(k, 0)
	_, err = tracker.AllocateUnwatched(tracker.Request{Kind: k, Device: -1, Tag: tag, Bytes: 51}, nil, nil)
	require.ErrorIs(t, err, tracker.ErrLimit, "the outside 100 bytes count against the limit")
	r, err := tracker.AllocateUnwatched(tracker.Request{Kind: k, Device: -1, Tag: tag, Bytes: 50}, nil, nil)
	require.NoError(t, err)
	r.Release()
	set(external.Counts{}, external.Counts{})
	assert.GreaterOrEqual(t, tracker.KindStats(k).LiveBytes, int64(0))
}

// The owner protocol commits or cancels each record once (the ledger's own
// check of that is TestCommitOrCancelOutOfTurnPanics); what an owner can
// still get wrong is stopped: a second Release changes nothing, a failed
// allocation leaves nothing, and a kind past MaxKinds is a membridge: panic.
func TestCommitAndCancelOutOfTurn(t *testing.T) {
	defer leaktest.VerifyNone(t)
	tag := testkit.UniqueTag(t)
	r, err := tracker.AllocateUnwatched(tracker.Request{Kind: kindCHeap, Device: -1, Tag: tag, Bytes: 10}, nil, nil)
	require.NoError(t, err)
	assert.Equal(t, int64(10), tracker.TagStats(tag).LiveBytes)
	require.True(t, r.Release())
	require.False(t, r.Release(), "a second Release")

	// An allocator that fails: the reservation is cancelled, nothing stays.
	_, err = tracker.AllocateUnwatched(tracker.Request{Kind: kindCHeap, Device: -1, Tag: tag, Bytes: 5},
		func() (uintptr, error) { return 0, errors.New("no") }, nil)
	require.Error(t, err)
	s := tracker.TagStats(tag)
	assert.Zero(t, s.LiveBytes)
	assert.Zero(t, s.LiveCount)

	assert.PanicsWithValue(t, "membridge: tracker.Allocate with kind 40: at most 32 kinds exist (RegisterKind)", func() {
		tracker.AllocateUnwatched(tracker.Request{Kind: tracker.Kind(40), Device: -1, Tag: tag, Bytes: 1}, nil, nil)
	})
}

// A negative limit is taken as no limit (0), as documented.
func TestNegativeLimitIsNone(t *testing.T) {
	tag := testkit.UniqueTag(t)
	tracker.SetTagLimit(tag, -1)
	assert.Zero(t, tracker.TagLimit(tag))
	k := newKind(t, "")
	tracker.SetLimit(k, math.MinInt64)
	assert.Zero(t, tracker.Limit(k))
	tracker.SetLimit(tracker.Kind(200), 5) // past MaxKinds: ignored
	assert.Zero(t, tracker.Limit(tracker.Kind(200)))
}

// Reliefs are outside code: what they say they freed is summed without
// wrapping, and a negative need means "as much as you can" (0) to them. It
// runs in a child process: the process-wide relief byte counter saturates,
// which other tests would then read.
func TestRelieveSumsHostileCounts(t *testing.T) {
	if !childtest.Alone(t) {
		return
	}
	var asked []int64
	un := tracker.RegisterRelief("hostile", func(s tracker.Shortage) int64 {
		asked = append(asked, s.Bytes)
		return math.MaxInt64
	})
	defer un()
	un2 := tracker.RegisterRelief("hostile-2", func(s tracker.Shortage) int64 {
		asked = append(asked, s.Bytes)
		return math.MaxInt64
	})
	defer un2()
	assert.Equal(t, int64(math.MaxInt64), tracker.Relieve(tracker.Shortage{Bytes: 0}))
	assert.Equal(t, int64(math.MaxInt64), tracker.Pressure().ReliefBytes, "the relief byte counter wrapped")
	assert.Equal(t, int64(math.MaxInt64), tracker.Relieve(tracker.Shortage{Bytes: math.MinInt64}))
	assert.Equal(t, []int64{0, 0, 0, 0}, asked)
	assert.Equal(t, int64(math.MaxInt64), tracker.Pressure().ReliefBytes)
	asked = nil
	assert.Equal(t, int64(math.MaxInt64), tracker.Relieve(tracker.Shortage{Bytes: math.MaxInt64}))
	assert.Equal(t, []int64{math.MaxInt64}, asked, "the first relief's count covers the need")
}

// Kinds are few (MaxKinds): once all are registered, RegisterKind says so,
// and existing names are still found. In a child process, since kinds
// cannot be unregistered.
func TestRegisterKindRunsOut(t *testing.T) {
	if !childtest.Alone(t) {
		return
	}
	var err error
	for i := 0; err == nil; i++ {
		require.Less(t, i, tracker.MaxKinds+1)
		_, err = tracker.RegisterKind(fmt.Sprintf("filler-%d", i))
	}
	require.ErrorContains(t, err, fmt.Sprintf("all %d kinds are in use", tracker.MaxKinds))
	assert.Len(t, tracker.Kinds(), tracker.MaxKinds)
	k, err := tracker.RegisterKind("c-heap")
	require.NoError(t, err)
	assert.Equal(t, kindCHeap, k)
}
