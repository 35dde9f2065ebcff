package tracker_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/membridge/membridge/internal/testkit"
	"github.com/membridge/membridge/native"
	"github.com/membridge/membridge/tracker"
	"github.com/membridge/membridge/tracker/leaktest"
)

// The allocation function an owner hands Allocate is a closure over its
// locals: it must cost no allocation of its own (the hot path of every
// Alloc+Free pair). An Allocate with one costs what one without does.
func TestAllocateClosureDoesNotAllocate(t *testing.T) {
	// The production mode: no stacks, no goroutine attribution, so what
	// is counted is the protocol's own (the test mode's extras vary).
	defer tracker.SetStackRate(tracker.SetStackRate(0))
	tag := testkit.UniqueTag(t)
	type owner struct{ p uintptr }
	n := int64(64)
	pair := func(withClosure bool) float64 {
		return testing.AllocsPerRun(200, func() {
			o := &owner{}
			var alloc func() (uintptr, error)
			if withClosure {
				alloc = func() (uintptr, error) {
					o.p = 0x1000 + uintptr(n) // captures o and n
					return o.p, nil
				}
			}
			r, err := tracker.Allocate(o, tracker.Request{Kind: kindCHeap, Device: -1, Tag: tag, Bytes: n, Addr: 0x1000}, alloc, nil)
			if err != nil {
				panic(err)
			}
			r.Retire()
		})
	}
	without, with := pair(false), pair(true)
	assert.LessOrEqual(t, with, without, "allocations per Allocate+Release: %v without an alloc function, %v with one", without, with)
}

// An error the owner's allocator returns comes back as it is, after the
// one relief and retry for an out-of-memory; any other error is not
// retried.
func TestAllocateRetriesOnlyOutOfMemory(t *testing.T) {
	defer leaktest.VerifyNone(t)
	tag := testkit.UniqueTag(t)
	calls := 0
	other := errors.New("bad alignment")
	_, err := tracker.AllocateUnwatched(tracker.Request{Kind: native.KindCHeap, Device: -1, Tag: tag, Bytes: 8},
		func() (uintptr, error) { calls++; return 0, other }, nil)
	require.Equal(t, other, err)
	assert.Equal(t, 1, calls, "an error other than out-of-memory is not retried")

	calls = 0
	before := tracker.Pressure()
	r, err := tracker.AllocateUnwatched(tracker.Request{Kind: native.KindCHeap, Device: -1, Tag: tag, Bytes: 8},
		func() (uintptr, error) {
			if calls++; calls == 1 {
				return 0, tracker.ErrOutOfMemory
			}
			return 0x2000, nil
		}, nil)
	require.NoError(t, err)
	assert.Equal(t, 2, calls)
	assert.Equal(t, uintptr(0x2000), r.Addr())
	after := tracker.Pressure()
	assert.Equal(t, before.Retries+1, after.Retries)
	assert.Equal(t, before.RetrySuccesses+1, after.RetrySuccesses)
	assert.Greater(t, after.Reliefs, before.Reliefs, "a relief before the retry")
	require.True(t, r.Release())
	s := tracker.TagStats(tag)
	assert.Equal(t, int64(1), s.AllocatedCount, "the failed allocation was never counted as made")
	assert.Zero(t, s.LiveBytes)
}

// Memory that exists already (a nil alloc) is not helped by a relief: a
// limit's refusal returns at once, and no relief runs.
func TestAllocateExistingMemoryIsNotRelieved(t *testing.T) {
	tag := testkit.UniqueTag(t)
	tracker.SetTagLimit(tag, 10)
	defer tracker.SetTagLimit(tag, 0)
	before := tracker.Pressure()
	_, err := tracker.AllocateUnwatched(tracker.Request{Kind: native.KindAdopted, Device: -1, Tag: tag, Bytes: 11, Addr: 0x3000}, nil, nil)
	require.ErrorIs(t, err, tracker.ErrLimit)
	assert.Equal(t, before.Reliefs, tracker.Pressure().Reliefs)
}
