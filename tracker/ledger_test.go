package tracker_test

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/membridge/membridge/internal/testkit"
	"github.com/membridge/membridge/tracker"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCountersFollowReserveCommitRelease(t *testing.T) {
	defer tracker.VerifyNone(t)
	var o fakeOwner
	tag := testkit.UniqueTag(t)
	h, err := o.alloc(tag, 100)
	require.NoError(t, err)
	h2, err := o.alloc(tag, 50)
	require.NoError(t, err)
	s := tracker.TagStats(tag)
	if s.LiveBytes != 150 || s.LiveCount != 2 || s.PeakBytes != 150 || s.AllocatedCount != 2 {
		t.Fatalf("after two allocations: %+v", s)
	}
	require.True(t, h.free(), "first release refused")
	if h.free() {
		t.Fatal("second release of the same record succeeded")
	}
	s = tracker.TagStats(tag)
	if s.LiveBytes != 50 || s.LiveCount != 1 || s.PeakBytes != 150 || s.FreedBytes != 100 {
		t.Fatalf("after one free: %+v", s)
	}
	h2.free()
	found := false
	for _, s := range tracker.AllStats() {
		if s.Tag == tag && s.Kind == tracker.KindCHeap && s.Device == -1 {
			found = s.AllocatedBytes == 150 && s.FreedBytes == 150 && s.LiveBytes == 0
		}
	}
	require.True(t, found, "AllStats has no balanced entry for %q: %+v", tag, tracker.AllStats())
}

func TestCancelGivesBackTheReservation(t *testing.T) {
	tag := testkit.UniqueTag(t)
	rec, err := tracker.Reserve(tracker.KindCHeap, -1, tag, 4096, 0)
	require.NoError(t, err)
	require.EqualValues(t, 4096, tracker.TagStats(tag).LiveBytes, "reserved bytes not counted")
	rec.Cancel()
	s := tracker.TagStats(tag)
	if s.LiveBytes != 0 || s.AllocatedCount != 0 || s.FreedCount != 0 {
		t.Fatalf("cancel left traces: %+v", s)
	}
}

func TestReserveRejectsNegativeSize(t *testing.T) {
	if _, err := tracker.Reserve(tracker.KindCHeap, -1, "neg", -1, 0); !errors.Is(err, tracker.ErrInvalidSize) {
		t.Fatalf("got %v, want ErrInvalidSize", err)
	}
}

func TestLimits(t *testing.T) {
	defer tracker.VerifyNone(t)
	tag := testkit.UniqueTag(t)
	tracker.SetTagLimit(tag, 1000)
	defer tracker.SetTagLimit(tag, 0)
	var o fakeOwner
	a, err := o.alloc(tag, 600)
	require.NoError(t, err)
	defer a.free()
	_, err = o.alloc(tag, 600)
	require.ErrorIs(t, err, tracker.ErrLimit, "over the tag limit")
	assert.Contains(t, err.Error(), "tag limit 1000 bytes", "limit error does not say which limit: %v", err)
	if s := tracker.TagStats(tag); s.LiveBytes != 600 || s.LimitHits != 1 {
		t.Fatalf("refused reservation left traces: %+v", s)
	}

	k, err := tracker.RegisterKind("test-limited")
	require.NoError(t, err)
	tracker.SetLimit(k, 10)
	defer tracker.SetLimit(k, 0)
	if _, err := tracker.Reserve(k, -1, tag, 11, 0); !errors.Is(err, tracker.ErrLimit) {
		t.Fatalf("over the kind limit: got %v", err)
	}
	r, err := tracker.Reserve(k, -1, tag, 10, 0)
	require.NoError(t, err, "at the kind limit")
	r.Cancel()
}

func TestRegisterKind(t *testing.T) {
	k, err := tracker.RegisterKind("test-kind")
	require.NoError(t, err)
	require.EqualValues(t, "test-kind", k.String(), "name")
	again, _ := tracker.RegisterKind("test-kind")
	require.Equal(t, k, again, "registering twice")
	if _, err := tracker.RegisterKind(""); err == nil {
		t.Fatal("empty kind name accepted")
	}
	if tracker.KindDevice.String() != "device" || tracker.Kind(200).String() != "kind(200)" {
		t.Fatal("kind names")
	}
}

func TestParseTrackMode(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"", tracker.DefaultSampleRate, true},
		{"sample", tracker.DefaultSampleRate, true},
		{"off", 0, true},
		{"all", 1, true},
		{"sample:4096", 4096, true},
		{"sample:0", 0, false},
		{"sample:x", 0, false},
		{"everything", 0, false},
	} {
		got, err := tracker.ParseTrackMode(tc.in)
		if (err == nil) != tc.ok || (tc.ok && got != tc.want) {
			t.Errorf("ParseTrackMode(%q) = %d, %v; want %d, ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func TestSampledStacksAreScaled(t *testing.T) {
	defer tracker.SetStackRate(tracker.SetStackRate(1 << 16))
	var o fakeOwner
	tag := testkit.UniqueTag(t)
	const n, size = 4000, 1024
	var hs []*handle
	var sampled int
	var weighted float64
	for range n {
		h, err := o.alloc(tag, size)
		require.NoError(t, err)
		hs = append(hs, h)
		if h.rec.Stack() != nil {
			sampled++
			weighted += tracker.SampleWeight(h.rec.Bytes(), h.rec.StackRate())
		}
	}
	for _, h := range hs {
		h.free()
	}
	// 4000 KiB at one sample per 64 KiB: about 62 samples. The scaled total
	// must be near the real total (Poisson noise: well within 50%).
	if sampled < 20 || sampled > 150 {
		t.Fatalf("%d stacks sampled, want about 62", sampled)
	}
	if total := float64(n * size); weighted < total/2 || weighted > total*2 {
		t.Fatalf("scaled samples stand for %.0f bytes; %.0f were allocated", weighted, total)
	}
}

func TestStackRateOffKeepsNoStacks(t *testing.T) {
	defer tracker.SetStackRate(tracker.SetStackRate(0))
	var o fakeOwner
	h, _ := o.alloc(t.Name(), 1<<30)
	defer h.free()
	require.Nil(t, h.rec.Stack(), "stack captured with the stack rate at 0")
}

//go:noinline
func leakyDecode(o *fakeOwner) *handle {
	h, _ := o.alloc("decoder", 512)
	return h
}

func TestPlantedLeakIsReportedWithStackTagAndTest(t *testing.T) {
	var o fakeOwner
	h := leakyDecode(&o)
	rt := &tracker.Recorder{TestName: t.Name()}
	tracker.VerifyNone(rt, tracker.MaxWait(10*time.Millisecond))
	rep := rt.Report()
	for _, want := range []string{
		"LEAK of 512 bytes in 1 allocation from 1 site",
		`tag "decoder"`,
		"kind c-heap",
		"made by TestPlantedLeakIsReportedWithStackTagAndTest",
		"tracker_test.leakyDecode",
		"ledger_test.go:",
	} {
		assert.Contains(t, rep, want, "report lacks")
	}
	h.free()
	tracker.VerifyNone(t)
}

func TestParallelTestsDoNotBlameEachOther(t *testing.T) {
	var o fakeOwner
	leaked := make(chan *handle, 1)
	var leakerReport, cleanReport string
	// The two tests take turns through these, so that each one's check
	// runs while the other's allocation is live, however the scheduler
	// runs them: the leaker allocates, the clean test allocates, the
	// leaker checks, the clean test frees and checks.
	leakerAllocated, cleanAllocated, leakerChecked := make(chan struct{}), make(chan struct{}), make(chan struct{})
	await := func(t *testing.T, ch chan struct{}, what string) {
		select {
		case <-ch:
		case <-time.After(testkit.Patience):
			t.Fatalf("the other test never %s (run with -parallel 1?)", what)
		}
	}
	t.Run("group", func(t *testing.T) {
		t.Run("leaker", func(t *testing.T) {
			t.Parallel()
			rt := &tracker.Recorder{TestName: t.Name()}
			h, _ := o.alloc("leaker", 64)
			// a goroutine started by this test allocates too
			done := make(chan *handle)
			go func() { h, _ := o.alloc("leaker-child", 32); done <- h }()
			child := <-done
			leaked <- h
			close(leakerAllocated)
			await(t, cleanAllocated, "allocated")
			tracker.VerifyNone(rt, tracker.MaxWait(10*time.Millisecond))
			close(leakerChecked)
			leakerReport = rt.Report()
			child.free()
		})
		t.Run("clean", func(t *testing.T) {
			t.Parallel()
			rt := &tracker.Recorder{TestName: t.Name()}
			await(t, leakerAllocated, "allocated")
			h, _ := o.alloc("clean", 64)
			close(cleanAllocated)
			await(t, leakerChecked, "checked")
			h.free()
			tracker.VerifyNone(rt, tracker.MaxWait(10*time.Millisecond))
			cleanReport = rt.Report()
		})
	})
	(<-leaked).free()
	assert.EqualValues(t, "", cleanReport, "the clean test was blamed")
	if !strings.Contains(leakerReport, `tag "leaker"`) || !strings.Contains(leakerReport, `tag "leaker-child"`) {
		t.Errorf("the leaking test's report misses its own or its goroutine's allocation:\n%s", leakerReport)
	}
	tracker.VerifyNone(t)
}

func TestDroppedHandleFailsTheTestAndIsReclaimed(t *testing.T) {
	require.Equal(t, tracker.LeakFail, tracker.CurrentLeakPolicy(), "test mode policy")
	var o fakeOwner
	func() { leakyDecode(&o) }() // the handle is dropped here
	rt := &tracker.Recorder{TestName: t.Name()}
	testkit.Eventually(t, func(c *assert.CollectT) {
		tracker.GC()
		assert.EqualValues(c, 512, o.reclaimed.Load(), "bytes the safety net reclaimed")
	})
	tracker.VerifyNone(rt, tracker.MaxWait(10*time.Millisecond))
	if rep := rt.Report(); !strings.Contains(rep, "1 dropped without Free") || !strings.Contains(rep, "leakyDecode") {
		t.Fatalf("dropped handle not reported with its stack:\n%s", rep)
	}
	// reported once: the next check is clean
	tracker.VerifyNone(t, tracker.MaxWait(10*time.Millisecond))
}

func TestLeakReportPolicyKeepsTheMemoryAndTheRecord(t *testing.T) {
	defer tracker.SetLeakPolicy(tracker.SetLeakPolicy(tracker.LeakReport))
	var heard []*tracker.Record
	var mu sync.Mutex
	tracker.SetLeakHandler(func(r *tracker.Record) { mu.Lock(); heard = append(heard, r); mu.Unlock() })
	defer tracker.SetLeakHandler(nil)
	var o fakeOwner
	tag := testkit.UniqueTag(t)
	func() { o.alloc(tag, 77) }()
	testkit.Eventually(t, func(c *assert.CollectT) {
		tracker.GC()
		mu.Lock()
		defer mu.Unlock()
		assert.NotEmpty(c, heard, "drops the leak handler heard")
	})
	mu.Lock()
	defer mu.Unlock()
	if len(heard) != 1 || !heard[0].Dropped() || heard[0].Tag() != tag {
		t.Fatalf("leak handler heard %v", heard)
	}
	require.EqualValues(t, 0, o.reclaimed.Load(), "LeakReport reclaimed the memory")
	s := tracker.TagStats(tag)
	if s.LiveBytes != 77 || s.DroppedCount != 1 {
		t.Fatalf("dropped record not kept live: %+v", s)
	}
	// The memory stays leaked by design; the test takes it out of the books.
	err := tracker.Find(tracker.MaxWait(0))
	if !errors.Is(err, tracker.ErrLeaked) || !strings.Contains(err.Error(), "1 dropped without Free") {
		t.Fatalf("Find: %v", err)
	}
	var le *tracker.LeakError
	if !errors.As(err, &le) || len(le.Records) != 1 {
		t.Fatalf("LeakError records: %v", err)
	}
	tracker.ForgetDropped(le.Records[0])
}

func TestHandOffIsNeitherLiveNorLeaked(t *testing.T) {
	defer tracker.VerifyNone(t)
	var o fakeOwner
	tag := testkit.UniqueTag(t)
	h, _ := o.alloc(tag, 300)
	require.True(t, h.rec.HandOff(), "hand-off refused")
	if h.rec.HandOff() || h.free() {
		t.Fatal("a handed-off record was ended twice")
	}
	s := tracker.TagStats(tag)
	if s.LiveBytes != 0 || s.HandedOffBytes != 300 || s.FreedBytes != 0 {
		t.Fatalf("hand-off counters: %+v", s)
	}
}

func TestIgnoreOptions(t *testing.T) {
	var o fakeOwner
	a, _ := o.alloc("ignored-tag", 1)
	base := tracker.IgnoreCurrent()
	b, _ := o.alloc("after-baseline", 2)
	err := tracker.Find(base, tracker.MaxWait(0))
	if err == nil || strings.Contains(err.Error(), "ignored-tag") || !strings.Contains(err.Error(), "after-baseline") {
		t.Fatalf("baseline: %v", err)
	}
	require.NoError(t, tracker.Find(base, tracker.IgnoreTags("after-baseline"), tracker.MaxWait(0)), "baseline plus ignored tag")
	require.NoError(t, tracker.Find(tracker.IgnoreKinds(tracker.KindCHeap), tracker.MaxWait(0)), "ignored kind")
	a.free()
	b.free()
}

func TestMaxWaitLetsLateFreesLand(t *testing.T) {
	var o fakeOwner
	h, _ := o.alloc(t.Name(), 10)
	time.AfterFunc(30*time.Millisecond, func() { h.free() })
	require.NoError(t, tracker.Find(tracker.MaxWait(5*time.Second)), "a free 30ms late was reported as a leak")
}

func TestConcurrentReleaseEndsOnce(t *testing.T) {
	defer tracker.VerifyNone(t)
	var o fakeOwner
	for range 200 {
		h, _ := o.alloc(t.Name(), 8)
		var wins atomicCounter
		var wg sync.WaitGroup
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if h.free() {
					wins.add()
				}
			}()
		}
		wg.Wait()
		require.EqualValues(t, 1, wins.n, "releases that won")
	}
}

type atomicCounter struct {
	mu sync.Mutex
	n  int
}

func (c *atomicCounter) add() { c.mu.Lock(); c.n++; c.mu.Unlock() }
