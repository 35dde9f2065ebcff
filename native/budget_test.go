package native

import (
	"context"
	"errors"
	"runtime"
	"testing"
	"time"

	"github.com/membridge/membridge/cext/leakcheck"
	"github.com/membridge/membridge/tracker"
	"github.com/stretchr/testify/require"
)

func TestAllocWaitsForBudget(t *testing.T) {
	defer leakcheck.Check(t)
	tag := t.Name()
	tracker.SetTagLimit(tag, 1000)
	defer tracker.SetTagLimit(tag, 0)
	held, err := Alloc(tag, 800)
	require.NoError(t, err)
	if _, err := Alloc(tag, 500); !errors.Is(err, ErrLimit) {
		t.Fatalf("without a context: %v, want ErrLimit at once", err)
	}
	before := tracker.Pressure()
	go func() {
		// Release once the allocation below waits, not after a guess.
		for tracker.Pressure().LimitWaits == before.LimitWaits {
			runtime.Gosched()
		}
		held.Free()
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	b, err := AllocContext(ctx, tag, 500)
	require.NoError(t, err, "AllocContext")
	b.Free()

	// A deadline that passes: ErrLimit and the context's error, so a
	// service answers 503, not 500.
	held, _ = Alloc(tag, 800)
	defer held.Free()
	ctx, cancel = context.WithTimeout(context.Background(), 5*time.Millisecond)
	defer cancel()
	_, err = Alloc(tag, 500, WaitFor(ctx), Align(64))
	if !errors.Is(err, ErrLimit) || !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrOutOfMemory) {
		t.Fatalf("AllocContext past its deadline: %v", err)
	}
}

// A registered relief (a cache) is asked to give memory back before an
// allocation over the limit fails, and the retry is counted. It is told
// which limit refused, and a relief for memory that does not count against
// that limit (RegisterRelief: the allocator's own) is not run.
func TestLimitRunsReliefThenRetries(t *testing.T) {
	defer leakcheck.Check(t)
	tag := t.Name()
	tracker.SetTagLimit(tag, 1000)
	defer tracker.SetTagLimit(tag, 0)
	cached, _ := Alloc(tag, 800)
	var got []tracker.Shortage
	unregister := tracker.RegisterRelief("test-cache", func(s tracker.Shortage) int64 {
		got = append(got, s)
		if cached == nil || !s.Counts(KindCHeap, tag) {
			return 0
		}
		cached.Free()
		cached = nil
		return 800
	})
	defer unregister()
	oomOnly := tracker.RegisterRelief("test-allocator", func(s tracker.Shortage) int64 {
		if s.Cause != tracker.ShortOfMemory {
			return 0
		}
		t.Error("a limit's refusal ran a relief registered for the allocator running out")
		return 0
	})
	defer oomOnly()
	before := tracker.Pressure()
	b, err := Alloc(tag, 500)
	require.NoError(t, err, "the relief should have made room")
	b.Free()
	after := tracker.Pressure()
	if after.RetrySuccesses != before.RetrySuccesses+1 || after.ReliefBytes < before.ReliefBytes+800 {
		t.Fatalf("pressure counters %+v -> %+v", before, after)
	}
	want := tracker.Shortage{Bytes: 500, Cause: tracker.ShortTagLimit, Kind: KindCHeap, Tag: tag}
	if len(got) != 1 || got[0] != want {
		t.Fatalf("the relief was told %+v, want [%+v]", got, want)
	}
}
