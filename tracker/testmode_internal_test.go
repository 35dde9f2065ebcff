package tracker

import (
	"runtime"
	"strings"
	"testing"

	"github.com/membridge/membridge/internal/testkit"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBenchmarksOnlyArgs(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want bool
	}{
		{nil, false},
		{[]string{"-test.paniconexit0", "-test.timeout=10m0s"}, false},
		{[]string{"-test.run=^$", "-test.bench=."}, true},
		{[]string{"-test.bench=.", "-test.run=^$", "-test.benchtime=1x"}, true},
		{[]string{"--test.run", "^$", "-test.bench", "Alloc"}, true},
		{[]string{"-test.benchtime", "1x", "-test.run", "^$", "-test.bench=."}, true},
		{[]string{"-test.run=^$"}, false},                                     // nothing at all runs
		{[]string{"-test.run=^$", "-test.bench="}, false},                     // no benchmark either
		{[]string{"-test.run=TestX", "-test.bench=."}, false},                 // tests and benchmarks
		{[]string{"-test.run=^$", "-test.run=TestX", "-test.bench=."}, false}, // the last one counts
		{[]string{"-test.run=^$", "--", "-test.bench=."}, false},
		{[]string{"-test.run"}, false}, // a flag without its value
	} {
		assert.Equal(t, tc.want, benchmarksOnlyArgs(tc.args), "%q", tc.args)
	}
}

// The tests of this package run in the test mode; leaving it restores the
// settings the process had before, and starting it again restores the mode.
func TestLeaveTestModeRestoresTheProductionSettings(t *testing.T) {
	production.Lock()
	saved, rate, policy := production.saved, production.rate, production.policy
	production.Unlock()
	require.True(t, saved, "a test binary starts in the test mode")
	defer func() {
		startTestMode()
		require.True(t, attribution.Load())
		require.Equal(t, int64(1), StackRate())
		require.Equal(t, LeakFail, CurrentLeakPolicy())
	}()
	leaveTestMode()
	assert.False(t, attribution.Load())
	assert.Equal(t, rate, StackRate())
	assert.Equal(t, policy, CurrentLeakPolicy())
	leaveTestMode() // a second time: nothing left to restore
	assert.Equal(t, rate, StackRate())
}

type droppable struct{ _ [16]byte }

// The safety net keeps a reclaimed record for the test mode before it takes
// it out of the ledger: a check running meanwhile finds it in one or the
// other, never in neither. The test holds the failures list while the drop
// is handled and looks at the ledger while the handler waits for the list.
func TestDroppedRecordIsNeverOutOfBothLedgerAndFailures(t *testing.T) {
	require.Equal(t, LeakFail, CurrentLeakPolicy())
	rec, err := Reserve(KindCHeap, -1, "between-ledger-and-failures", 40, 0)
	require.NoError(t, err)
	h := &droppable{}
	CommitWatched(h, rec, 0xbeef00, nil)

	failures.Lock()
	done := make(chan struct{})
	go func() { onDropped(dropArg{rec, rec.watchSeq.Load()}); close(done) }()
	blocked := func() bool { // the handler is waiting for the failures list
		buf := make([]byte, 1<<20)
		for _, g := range strings.Split(string(buf[:runtime.Stack(buf, true)]), "\n\n") {
			if strings.Contains(g, "tracker.onDropped(") && strings.Contains(g, "sync.(*Mutex).Lock") {
				return true
			}
		}
		return false
	}
	if !testkit.Until(blocked, nil) {
		failures.Unlock()
		t.Fatal("the safety net's handler never waited for the failures list")
	}
	inLedger := false
	LiveRecords(func(r *Record) bool { inLedger = inLedger || r == rec; return !inLedger })
	failures.Unlock()
	<-done
	assert.True(t, inLedger, "the dropped record was out of the ledger before the failures list had it")

	// The drop is this test's: its check reports it once and consumes it.
	rt := &Recorder{TestName: t.Name()}
	VerifyNone(rt, MaxWait(0))
	assert.Contains(t, rt.Report(), "1 dropped without Free")
	runtime.KeepAlive(h)
	VerifyNone(t, MaxWait(0))
}

func TestParseGoroutines(t *testing.T) {
	dump := []byte(`goroutine 7 [running]:
github.com/membridge/membridge/tracker.readGoroutines()
	/src/tracker/goroutine.go:80 +0x45
created by testing.(*T).Run in goroutine 1
	/go/src/testing/testing.go:2101 +0x4c5

goroutine 1 [chan receive]:
testing.(*T).Run(0xc000003340, {0x5a0b2e, 0x10}, 0x5b2f10)
	/go/src/testing/testing.go:2102 +0x4e5
main.main()
	_testmain.go:45 +0x9b

goroutine 9 [chan receive]:
testing.(*T).Parallel(0xc000102000)
	/go/src/testing/testing.go:1709 +0x1d8
example.TestP.func1(0xc000102000)
	/src/p_test.go:12 +0x1b
testing.tRunner(0xc000102000, 0x5b2f20)
	/go/src/testing/testing.go:2036 +0xea
created by testing.(*T).Run in goroutine 7
	/go/src/testing/testing.go:2101 +0x4c5

goroutine 12 [select]:
example.worker()
	/src/p_test.go:30 +0x1b
created by example.TestP in goroutine 7
	/src/p_test.go:20 +0x2e
`)
	s := parseGoroutines(dump)
	assert.Equal(t, map[uint64]uint64{7: 1, 9: 7, 12: 7}, s.creator)
	assert.Equal(t, map[uint64]bool{9: true}, s.paused)
	assert.Empty(t, parseGoroutines(nil).creator)
}

func TestOwns(t *testing.T) {
	// test T (created by 1) started T+1, which started T+2 and is still
	// running; T+2 started T+3. T+4 is a subtest of T paused in
	// t.Parallel; T+5 a goroutine it started before pausing. (Ids far above
	// the process's own goroutines, which parents may know.)
	const T = 1 << 40
	snap := &goroutineSnapshot{
		creator: map[uint64]uint64{T: 1, T + 1: T, T + 2: T + 1, T + 4: T, T + 5: T + 4},
		paused:  map[uint64]bool{T + 4: true},
	}
	looks := 0
	get := func() *goroutineSnapshot { looks++; return snap }
	for _, tc := range []struct {
		gid, creator uint64
		want         bool
	}{
		{T, 1, true},          // the test itself
		{T + 1, T, true},      // a goroutine it started
		{T + 3, T + 2, true},  // through running goroutines that never allocated
		{T + 4, T, false},     // a paused subtest's own
		{T + 5, T + 4, false}, // its goroutine's
		{T + 9, 1, false},     // another test's
		{0, 0, false},         // not attributed
	} {
		assert.Equal(t, tc.want, owns(tc.gid, tc.creator, T, get), "goroutine %d created by %d", tc.gid, tc.creator)
	}
	assert.Positive(t, looks)
}

// A chain that cannot reach the test (memory of package init, on the main
// goroutine; another test's, through goroutines that allocated) costs no
// look at every goroutine.
func TestOwnsTakesNoSnapshotForChainsThatCannotReachTheTest(t *testing.T) {
	const T = 1 << 41
	parents.Store(uint64(T+1), uint64(mainGoroutine)) // another top-level test, which allocated
	defer parents.Delete(uint64(T + 1))
	none := func() *goroutineSnapshot { t.Fatal("took a snapshot"); return nil }
	assert.False(t, owns(mainGoroutine, 0, T, none))
	assert.False(t, owns(T+1, mainGoroutine, T, none))
	assert.False(t, owns(T+2, T+1, T, none))
}

func TestVerifyWithNilPanicsWithAMessage(t *testing.T) {
	const none = "membridge: VerifyNone needs the test's *testing.T (or a TestingT), got nil"
	assert.PanicsWithValue(t, none, func() { VerifyNone(nil) })
	assert.PanicsWithValue(t, none, func() { VerifyNone((*testing.T)(nil)) })
	const main = "membridge: VerifyTestMain needs TestMain's *testing.M (or a TestingM), got nil"
	assert.PanicsWithValue(t, main, func() { VerifyTestMain(nil) })
	assert.PanicsWithValue(t, main, func() { VerifyTestMain((*testing.M)(nil)) })
}
