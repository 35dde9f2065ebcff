package tracker

import (
	"runtime"
	"slices"
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
	saved, rate, policy, checking := production.saved, production.rate, production.policy, production.checking
	production.Unlock()
	require.True(t, saved, "a test binary starts in the test mode")
	defer func() {
		startTestMode()
		require.True(t, attribution.Load())
		require.Equal(t, int64(1), StackRate())
		require.True(t, Checking())
		require.Equal(t, LeakFail, CurrentLeakPolicy())
	}()
	leaveTestMode()
	assert.False(t, attribution.Load())
	assert.Equal(t, checking, Checking())
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
	h := &droppable{}
	rec, err := Allocate(h, Request{Kind: kindCHeap, Device: -1, Tag: "between-ledger-and-failures", Bytes: 40, Addr: 0xbeef00}, nil, nil)
	require.NoError(t, err)

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

	// The drop is this test's: the failures list keeps it for the test
	// mode's check (tracker/leaktest), which this test does in its stead.
	failures.Lock()
	i := slices.Index(failures.recs, rec)
	if i >= 0 {
		failures.recs = slices.Delete(failures.recs, i, i+1)
	}
	failures.Unlock()
	assert.GreaterOrEqual(t, i, 0, "the failures list lost the dropped record")
	runtime.KeepAlive(h)
}
