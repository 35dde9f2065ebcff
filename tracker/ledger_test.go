package tracker_test

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/membridge/membridge/internal/testkit"
	"github.com/membridge/membridge/tracker"
	"github.com/membridge/membridge/tracker/internal/ledgertest"
	"github.com/membridge/membridge/tracker/leaktest"
	"github.com/membridge/membridge/tracker/stacks"
)

func TestCountersFollowReserveCommitRelease(t *testing.T) {
	defer leaktest.VerifyNone(t)
	var o ledgertest.Owner
	tag := testkit.UniqueTag(t)
	h, err := o.Alloc(tag, 100)
	if err != nil {
		t.Fatal(err)
	}
	h2, err := o.Alloc(tag, 50)
	if err != nil {
		t.Fatal(err)
	}
	s := tracker.TagStats(tag)
	if s.LiveBytes != 150 || s.LiveCount != 2 || s.PeakBytes != 150 || s.AllocatedCount != 2 {
		t.Fatalf("after two allocations: %+v", s)
	}
	if !h.Free() {
		t.Fatal("first release refused")
	}
	if h.Free() {
		t.Fatal("second release of the same record succeeded")
	}
	s = tracker.TagStats(tag)
	if s.LiveBytes != 50 || s.LiveCount != 1 || s.PeakBytes != 150 || s.FreedBytes != 100 {
		t.Fatalf("after one free: %+v", s)
	}
	h2.Free()
	found := false
	for _, s := range tracker.AllStats() {
		if s.Tag == tag && s.Kind == kindCHeap && s.Device == -1 {
			found = s.AllocatedBytes == 150 && s.FreedBytes == 150 && s.LiveBytes == 0
		}
	}
	if !found {
		t.Fatalf("AllStats has no balanced entry for %q: %+v", tag, tracker.AllStats())
	}
}

// An allocation that fails gives back its reservation: the bytes count
// while the owner's allocator runs, and leave no trace after.
func TestFailedAllocationGivesBackTheReservation(t *testing.T) {
	tag := testkit.UniqueTag(t)
	failed := errors.New("the allocator failed")
	_, err := tracker.AllocateUnwatched(tracker.Request{Kind: kindCHeap, Device: -1, Tag: tag, Bytes: 4096}, func() (uintptr, error) {
		if got := tracker.TagStats(tag).LiveBytes; got != 4096 {
			t.Errorf("reserved bytes not counted: %d", got)
		}
		return 0, failed
	}, nil)
	if err != failed {
		t.Fatalf("Allocate returned %v, want the allocator's error as it is", err)
	}
	s := tracker.TagStats(tag)
	if s.LiveBytes != 0 || s.AllocatedCount != 0 || s.FreedCount != 0 {
		t.Fatalf("cancel left traces: %+v", s)
	}
}

func TestReserveRejectsNegativeSize(t *testing.T) {
	if _, err := tracker.AllocateUnwatched(tracker.Request{Kind: kindCHeap, Device: -1, Tag: "neg", Bytes: -1}, nil, nil); !errors.Is(err, tracker.ErrInvalidSize) {
		t.Fatalf("got %v, want ErrInvalidSize", err)
	}
}

func TestLimits(t *testing.T) {
	defer leaktest.VerifyNone(t)
	tag := testkit.UniqueTag(t)
	tracker.SetTagLimit(tag, 1000)
	defer tracker.SetTagLimit(tag, 0)
	var o ledgertest.Owner
	a, err := o.Alloc(tag, 600)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Free()
	_, err = o.Alloc(tag, 600)
	if !errors.Is(err, tracker.ErrLimit) {
		t.Fatalf("over the tag limit: got %v, want ErrLimit", err)
	}
	if !strings.Contains(err.Error(), "tag limit 1000 bytes") {
		t.Errorf("limit error does not say which limit: %v", err)
	}
	if s := tracker.TagStats(tag); s.LiveBytes != 600 || s.LimitHits != 1 {
		t.Fatalf("refused reservation left traces: %+v", s)
	}

	k, err := tracker.RegisterKind("test-limited")
	if err != nil {
		t.Fatal(err)
	}
	tracker.SetLimit(k, 10)
	defer tracker.SetLimit(k, 0)
	if _, err := tracker.AllocateUnwatched(tracker.Request{Kind: k, Device: -1, Tag: tag, Bytes: 11}, nil, nil); !errors.Is(err, tracker.ErrLimit) {
		t.Fatalf("over the kind limit: got %v", err)
	}
	r, err := tracker.AllocateUnwatched(tracker.Request{Kind: k, Device: -1, Tag: tag, Bytes: 10}, nil, nil)
	if err != nil {
		t.Fatalf("at the kind limit: %v", err)
	}
	r.Release()
}

func TestRegisterKind(t *testing.T) {
	k, err := tracker.RegisterKind("test-kind")
	if err != nil {
		t.Fatal(err)
	}
	if k.String() != "test-kind" {
		t.Fatalf("name %q", k.String())
	}
	again, _ := tracker.RegisterKind("test-kind")
	if again != k {
		t.Fatalf("registering twice gave %d and %d", k, again)
	}
	if _, err := tracker.RegisterKind(""); err == nil {
		t.Fatal("empty kind name accepted")
	}
	if kindDevice.String() != "device" || tracker.Kind(200).String() != "kind(200)" {
		t.Fatal("kind names")
	}
}

func TestSampledStacksAreScaled(t *testing.T) {
	defer tracker.SetStackRate(tracker.SetStackRate(1 << 16))
	var o ledgertest.Owner
	tag := testkit.UniqueTag(t)
	const n, size = 4000, 1024
	var hs []*ledgertest.Handle
	var sampled int
	var weighted float64
	for range n {
		h, err := o.Alloc(tag, size)
		if err != nil {
			t.Fatal(err)
		}
		hs = append(hs, h)
		if h.Rec.Stack() != nil {
			sampled++
			weighted += stacks.SampleWeight(h.Rec.Bytes(), h.Rec.StackRate())
		}
	}
	for _, h := range hs {
		h.Free()
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
	var o ledgertest.Owner
	h, _ := o.Alloc(t.Name(), 1<<30)
	defer h.Free()
	if h.Rec.Stack() != nil {
		t.Fatal("stack captured with the stack rate at 0")
	}
}

//go:noinline
func leakyDecode(o *ledgertest.Owner) *ledgertest.Handle {
	h, _ := o.Alloc("decoder", 512)
	return h
}

func TestPlantedLeakIsReportedWithStackTagAndTest(t *testing.T) {
	var o ledgertest.Owner
	h := leakyDecode(&o)
	rt := &leaktest.Recorder{TestName: t.Name()}
	leaktest.VerifyNone(rt, leaktest.MaxWait(10*time.Millisecond))
	rep := rt.Report()
	for _, want := range []string{
		"LEAK of 512 bytes in 1 allocation from 1 site",
		`tag "decoder"`,
		"kind c-heap",
		"made by TestPlantedLeakIsReportedWithStackTagAndTest",
		"tracker_test.leakyDecode",
		"ledger_test.go:",
	} {
		if !strings.Contains(rep, want) {
			t.Errorf("report lacks %q:\n%s", want, rep)
		}
	}
	h.Free()
	leaktest.VerifyNone(t)
}

func TestParallelTestsDoNotBlameEachOther(t *testing.T) {
	var o ledgertest.Owner
	leaked := make(chan *ledgertest.Handle, 1)
	var leakerReport, cleanReport string
	t.Run("group", func(t *testing.T) {
		t.Run("leaker", func(t *testing.T) {
			t.Parallel()
			rt := &leaktest.Recorder{TestName: t.Name()}
			h, _ := o.Alloc("leaker", 64)
			// a goroutine started by this test allocates too
			done := make(chan *ledgertest.Handle)
			go func() { h, _ := o.Alloc("leaker-child", 32); done <- h }()
			child := <-done
			leaked <- h
			time.Sleep(20 * time.Millisecond) // let the clean test run meanwhile
			leaktest.VerifyNone(rt, leaktest.MaxWait(10*time.Millisecond))
			leakerReport = rt.Report()
			child.Free()
		})
		t.Run("clean", func(t *testing.T) {
			t.Parallel()
			rt := &leaktest.Recorder{TestName: t.Name()}
			h, _ := o.Alloc("clean", 64)
			time.Sleep(10 * time.Millisecond)
			h.Free()
			leaktest.VerifyNone(rt, leaktest.MaxWait(10*time.Millisecond))
			cleanReport = rt.Report()
		})
	})
	(<-leaked).Free()
	if cleanReport != "" {
		t.Errorf("the clean test was blamed:\n%s", cleanReport)
	}
	if !strings.Contains(leakerReport, `tag "leaker"`) || !strings.Contains(leakerReport, `tag "leaker-child"`) {
		t.Errorf("the leaking test's report misses its own or its goroutine's allocation:\n%s", leakerReport)
	}
	leaktest.VerifyNone(t)
}

func TestDroppedHandleFailsTheTestAndIsReclaimed(t *testing.T) {
	if tracker.CurrentLeakPolicy() != tracker.LeakFail {
		t.Fatalf("test mode policy is %v", tracker.CurrentLeakPolicy())
	}
	var o ledgertest.Owner
	func() { leakyDecode(&o) }() // the handle is dropped here
	rt := &leaktest.Recorder{TestName: t.Name()}
	deadline := time.Now().Add(5 * time.Second)
	for o.Reclaimed.Load() == 0 && time.Now().Before(deadline) {
		tracker.GC()
		time.Sleep(time.Millisecond)
	}
	if o.Reclaimed.Load() != 512 {
		t.Fatalf("safety net reclaimed %d bytes, want 512", o.Reclaimed.Load())
	}
	leaktest.VerifyNone(rt, leaktest.MaxWait(10*time.Millisecond))
	if rep := rt.Report(); !strings.Contains(rep, "1 dropped without Free") || !strings.Contains(rep, "leakyDecode") {
		t.Fatalf("dropped handle not reported with its stack:\n%s", rep)
	}
	// reported once: the next check is clean
	leaktest.VerifyNone(t, leaktest.MaxWait(10*time.Millisecond))
}

func TestLeakReportPolicyKeepsTheMemoryAndTheRecord(t *testing.T) {
	defer tracker.SetLeakPolicy(tracker.SetLeakPolicy(tracker.LeakReport))
	var heard []*tracker.Record
	var mu sync.Mutex
	tracker.SetLeakHandler(func(r *tracker.Record) { mu.Lock(); heard = append(heard, r); mu.Unlock() })
	defer tracker.SetLeakHandler(nil)
	var o ledgertest.Owner
	tag := testkit.UniqueTag(t)
	func() { o.Alloc(tag, 77) }()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		tracker.GC()
		mu.Lock()
		n := len(heard)
		mu.Unlock()
		if n > 0 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(heard) != 1 || !heard[0].Dropped() || heard[0].Tag() != tag {
		t.Fatalf("leak handler heard %v", heard)
	}
	if o.Reclaimed.Load() != 0 {
		t.Fatal("LeakReport reclaimed the memory")
	}
	s := tracker.TagStats(tag)
	if s.LiveBytes != 77 || s.DroppedCount != 1 {
		t.Fatalf("dropped record not kept live: %+v", s)
	}
	// The memory stays leaked by design; the test takes it out of the books.
	err := leaktest.Find(leaktest.MaxWait(0))
	if !errors.Is(err, leaktest.ErrLeaked) || !strings.Contains(err.Error(), "1 dropped without Free") {
		t.Fatalf("Find: %v", err)
	}
	var le *leaktest.LeakError
	if !errors.As(err, &le) || len(le.Records) != 1 {
		t.Fatalf("LeakError records: %v", err)
	}
	tracker.ForgetDropped(le.Records[0])
}

func TestHandOffIsNeitherLiveNorLeaked(t *testing.T) {
	defer leaktest.VerifyNone(t)
	var o ledgertest.Owner
	tag := testkit.UniqueTag(t)
	h, _ := o.Alloc(tag, 300)
	if !h.Rec.HandOff() {
		t.Fatal("hand-off refused")
	}
	if h.Rec.HandOff() || h.Free() {
		t.Fatal("a handed-off record was ended twice")
	}
	s := tracker.TagStats(tag)
	if s.LiveBytes != 0 || s.HandedOffBytes != 300 || s.FreedBytes != 0 {
		t.Fatalf("hand-off counters: %+v", s)
	}
}

func TestIgnoreOptions(t *testing.T) {
	var o ledgertest.Owner
	a, _ := o.Alloc("ignored-tag", 1)
	base := leaktest.IgnoreCurrent()
	b, _ := o.Alloc("after-baseline", 2)
	err := leaktest.Find(base, leaktest.MaxWait(0))
	if err == nil || strings.Contains(err.Error(), "ignored-tag") || !strings.Contains(err.Error(), "after-baseline") {
		t.Fatalf("baseline: %v", err)
	}
	if err := leaktest.Find(base, leaktest.IgnoreTags("after-baseline"), leaktest.MaxWait(0)); err != nil {
		t.Fatalf("baseline plus ignored tag: %v", err)
	}
	if err := leaktest.Find(leaktest.IgnoreKinds(kindCHeap), leaktest.MaxWait(0)); err != nil {
		t.Fatalf("ignored kind: %v", err)
	}
	a.Free()
	b.Free()
}

func TestMaxWaitLetsLateFreesLand(t *testing.T) {
	var o ledgertest.Owner
	h, _ := o.Alloc(t.Name(), 10)
	time.AfterFunc(30*time.Millisecond, func() { h.Free() })
	if err := leaktest.Find(leaktest.MaxWait(5 * time.Second)); err != nil {
		t.Fatalf("a free 30ms late was reported as a leak: %v", err)
	}
}

func TestConcurrentReleaseEndsOnce(t *testing.T) {
	defer leaktest.VerifyNone(t)
	var o ledgertest.Owner
	for range 200 {
		h, _ := o.Alloc(t.Name(), 8)
		var wins atomicCounter
		var wg sync.WaitGroup
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if h.Free() {
					wins.add()
				}
			}()
		}
		wg.Wait()
		if wins.n != 1 {
			t.Fatalf("%d releases won", wins.n)
		}
	}
}

type atomicCounter struct {
	mu sync.Mutex
	n  int
}

func (c *atomicCounter) add() { c.mu.Lock(); c.n++; c.mu.Unlock() }
