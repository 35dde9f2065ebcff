// Package leaktest is membridge's test mode, shaped like goleak: it fails
// tests that leave native or device memory behind, and blames the test that
// made the allocation even when tests run in parallel.
//
//	func TestMain(m *testing.M) { leaktest.VerifyTestMain(m) }
//
//	func TestDecode(t *testing.T) {
//		defer leaktest.VerifyNone(t)
//		...
//	}
//
// The test mode itself is on in every test binary from its start, whether
// it imports this package or not (package tracker turns it on): every
// allocation keeps its stack and notes its goroutine, checking is on
// (tracker.Checking), and a dropped handle is reclaimed and kept for the
// test that made it (tracker.LeakFail).
package leaktest

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/membridge/membridge/tracker"
	"github.com/membridge/membridge/tracker/internal/goroutines"
	"github.com/membridge/membridge/tracker/internal/stackutil"
	"github.com/membridge/membridge/tracker/internal/testhook"
)

// ErrLeaked is what the test mode wraps when it finds memory left behind.
var ErrLeaked = errors.New("membridge: leaked native memory")

// ledger is what package tracker lends the test mode.
var ledger = testhook.Get[*tracker.Record]()

// TestingT is the part of *testing.T that VerifyNone needs.
type TestingT interface {
	Error(args ...any)
}

// TestingM is the part of *testing.M that VerifyTestMain needs.
type TestingM interface {
	Run() int
}

// An Option changes what the test mode looks for or how long it waits.
type Option interface {
	apply(*options)
}

type options struct {
	ignoreTags    map[string]bool
	ignoreKinds   map[tracker.Kind]bool
	baseline      map[uint64]bool
	maxWait       time.Duration
	noAttribution bool
}

type optionFunc func(*options)

func (f optionFunc) apply(o *options) { f(o) }

// IgnoreTags leaves records with these tags out of the check.
func IgnoreTags(tags ...string) Option {
	return optionFunc(func(o *options) {
		for _, t := range tags {
			o.ignoreTags[t] = true
		}
	})
}

// IgnoreKinds leaves records of these kinds out of the check.
func IgnoreKinds(kinds ...tracker.Kind) Option {
	return optionFunc(func(o *options) {
		for _, k := range kinds {
			o.ignoreKinds[k] = true
		}
	})
}

// IgnoreCurrent takes a baseline: whatever is live when IgnoreCurrent is
// called is left out of the check.
func IgnoreCurrent() Option {
	ids := map[uint64]bool{}
	tracker.LiveRecords(func(r *tracker.Record) bool {
		ids[r.ID()] = true
		return true
	})
	return optionFunc(func(o *options) {
		for id := range ids {
			o.baseline[id] = true
		}
	})
}

// MaxWait bounds how long the check waits for asynchronous frees (queued
// device frees, pending cleanups) before it declares a leak. The default is
// one second; the check returns as soon as nothing is left, or as soon as
// what is left can no longer go away (handles the safety net found
// dropped).
func MaxWait(d time.Duration) Option {
	return optionFunc(func(o *options) { o.maxWait = max(d, 0) })
}

func buildOptions(opts []Option) *options {
	o := &options{
		ignoreTags:  map[string]bool{},
		ignoreKinds: map[tracker.Kind]bool{},
		baseline:    map[uint64]bool{},
		maxWait:     time.Second,
	}
	for _, opt := range opts {
		opt.apply(o)
	}
	return o
}

// Find returns an error wrapping ErrLeaked, with a report grouped by
// allocation site, if any native memory is still live or any handle was
// dropped without a free; nil otherwise. It waits up to MaxWait, collecting
// garbage between looks, so that late frees and cleanups can land.
func Find(opts ...Option) error {
	return find(buildOptions(opts), func(*tracker.Record) bool { return true }, "", false)
}

// VerifyNone fails t if memory made by this test is left: records made on
// the calling goroutine, or on goroutines it started (directly, or through
// goroutines that allocated or are still running), that are still live,
// and handles they dropped without a free. Call it at the end of the test
// (defer VerifyNone(t)) on the test's own goroutine; a nil t panics. It
// needs no TestMain: a test binary starts in the test mode (see
// VerifyTestMain), so every record notes the goroutine that made it.
//
// While any of the test's records is live it collects garbage (GC) and
// waits, with a capped backoff up to MaxWait: a free may land late, and a
// handle the test dropped is found by the safety net, reclaimed and kept
// for this check. It then fails t once, with a report grouped by
// allocation site that names the site, the test and the handles dropped
// without Free. What it reported, no later VerifyNone reports again.
//
// Subtests: a test's memory includes that of its finished subtests. A
// deferred check runs before the test's parallel subtests resume; what they
// made before t.Parallel is theirs to check. To check a test and all its
// subtests after they have run, call VerifyNone from t.Cleanup.
//
// What it does not see: memory another test made (parallel tests included),
// memory a goroutine the test started makes after the check has run, and
// memory made before the test mode was on (a run of benchmarks only) and
// not under this test's frame. VerifyTestMain's check of the whole run
// reports all of it. Without attribution (WithoutAttribution), VerifyNone
// cannot tell tests apart and checks everything, like Find.
func VerifyNone(t TestingT, opts ...Option) {
	if tt, typed := t.(*testing.T); t == nil || typed && tt == nil {
		panic("membridge: VerifyNone needs the test's *testing.T (or a TestingT), got nil")
	}
	if h, ok := t.(interface{ Helper() }); ok {
		h.Helper()
	}
	name := ""
	if n, ok := t.(interface{ Name() string }); ok {
		name = n.Name()
	}
	owned := func(*tracker.Record) bool { return true }
	if goroutines.Attribution.Load() {
		g := goroutines.Current()
		var snap *goroutines.Snapshot
		snapshot := func() *goroutines.Snapshot {
			if snap == nil {
				snap = goroutines.Read()
			}
			return snap
		}
		owned = func(r *tracker.Record) bool {
			gid, creator := ledger.Goroutines(r)
			if gid == 0 {
				// Made before attribution was on: only a top-level test
				// with its own frame on the stack can claim it.
				return name != "" && !strings.Contains(name, "/") && stackutil.TestFrame(r.Stack()) == name
			}
			return goroutines.Owns(gid, creator, g, snapshot)
		}
	}
	if err := find(buildOptions(opts), owned, name, true); err != nil {
		t.Error(err)
	}
}

// WithoutAttribution makes VerifyTestMain leave goroutine attribution off,
// so that records are made as in production: without a stack or a
// goroutine when the stack rate says so, and reused after a free (see
// Record.Retire). It is for tests of those production paths. VerifyNone
// then cannot tell tests apart and blames every live allocation on the
// test that calls it (a leak fails only the first test that reports it):
// such tests must not run in parallel.
func WithoutAttribution() Option {
	return optionFunc(func(o *options) { o.noAttribution = true })
}

// VerifyTestMain runs the tests in the test mode and then fails the run if
// any native memory is left, whichever test or goroutine made it; a nil m
// panics. Use it as
//
//	func TestMain(m *testing.M) { leaktest.VerifyTestMain(m) }
//
// What each check gives:
//
//   - VerifyNone, per test: the test that left memory, or dropped a handle,
//     fails, with the report in its own output; no other test is blamed.
//   - VerifyTestMain, per package: after all tests passed, anything still
//     left fails the run (exit status 1, the report on stderr): leaks of
//     tests that do not call VerifyNone, memory a goroutine made after its
//     test returned, memory package variables hold. Dropped handles no
//     VerifyNone reported are in it too; the safety net does not log them
//     (under LeakFail), since this check reports them.
//
// The test mode is on in any test binary from its start (testing.Testing, by package tracker),
// VerifyTestMain or not: every allocation keeps its stack (unless
// MEMBRIDGE_TRACK says otherwise), notes the goroutine that made it and
// that goroutine's creator, so VerifyNone blames only its own test, and a
// dropped handle is reclaimed and kept for the test that made it
// (LeakFail, unless MEMBRIDGE_LEAKS says otherwise). Without
// VerifyTestMain, the safety net also logs each dropped handle's site once
// when it finds the drop: nothing else reports a drop in a test without
// VerifyNone.
//
// A run of benchmarks only (-test.run '^$' -test.bench ...) keeps the
// production settings, so the benchmarks measure what a service pays and
// not the test mode's stack and goroutine per allocation; the ledger is
// still checked at the end.
func VerifyTestMain(m TestingM, opts ...Option) {
	if mm, typed := m.(*testing.M); m == nil || typed && mm == nil {
		panic("membridge: VerifyTestMain needs TestMain's *testing.M (or a TestingM), got nil")
	}
	o := buildOptions(opts)
	if benchmarksOnly() {
		ledger.Leave()
	} else {
		EnableTestMode()
		if o.noAttribution {
			goroutines.Attribution.Store(false)
		}
	}
	code := m.Run()
	if code == 0 {
		if err := find(o, func(*tracker.Record) bool { return true }, "", false); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
	}
	os.Exit(code)
}

// benchmarksOnly reports whether the test binary was asked for benchmarks
// and no tests. It parses the command line, as testing.M.Run would.
func benchmarksOnly() bool {
	if !flag.Parsed() {
		flag.Parse()
	}
	run, bench := flag.Lookup("test.run"), flag.Lookup("test.bench")
	return run != nil && bench != nil && run.Value.String() == "^$" && bench.Value.String() != ""
}

// EnableTestMode turns on what VerifyTestMain turns on, for harnesses that
// run tests their own way and check the whole run at its end (Find): the
// test mode, and the safety net's log of dropped handles off under
// LeakFail, since that check reports them.
func EnableTestMode() {
	ledger.Start()
	testhook.RunChecked.Store(true)
}

// find looks for leaks until none is left, or none can still go away, or
// MaxWait has passed. With once (VerifyNone), what it reports is not
// reported again by a later call with once.
func find(o *options, owned func(*tracker.Record) bool, who string, once bool) error {
	deadline := time.Now().Add(o.maxWait)
	sleep := time.Millisecond
	for {
		leaks, pending := collect(o, owned, false, once)
		if len(leaks) == 0 {
			return nil
		}
		// Settled leaks (dropped handles, already found) will not go away:
		// waiting is only for records still live.
		if !pending || !time.Now().Before(deadline) {
			leaks, _ = collect(o, owned, true, once)
			if len(leaks) == 0 {
				return nil
			}
			var b strings.Builder
			if who != "" {
				fmt.Fprintf(&b, "%s: ", who)
			}
			writeLeaks(&b, leaks)
			return &LeakError{Records: leaks, report: b.String()}
		}
		tracker.GC()
		time.Sleep(min(sleep, time.Until(deadline)))
		sleep = min(2*sleep, 100*time.Millisecond)
	}
}

// reported holds the ids of the records a VerifyNone reported, so that a
// leak a test keeps fails that test and not every later one.
var reported struct {
	sync.Mutex
	ids map[uint64]struct{}
}

// collect returns the leaks that pass the options and the ownership filter:
// records in the ledger (live, or dropped but still allocated), and records
// the safety net reclaimed under LeakFail; pending says whether any of them
// is still live (its free may yet land, or its drop be found). With once,
// records an earlier VerifyNone reported are left out. With consume, the
// reclaimed ones it returns are forgotten, and with once and consume, what
// it returns is marked reported.
func collect(o *options, owned func(*tracker.Record) bool, consume, once bool) (out []*tracker.Record, pending bool) {
	reported.Lock()
	defer reported.Unlock()
	keep := func(r *tracker.Record) bool {
		if once {
			if _, done := reported.ids[r.ID()]; done {
				return false
			}
		}
		return !o.ignoreTags[r.Tag()] && !o.ignoreKinds[r.Kind()] && !o.baseline[r.ID()] && owned(r)
	}
	seen := map[uint64]bool{}
	tracker.LiveRecords(func(r *tracker.Record) bool {
		if keep(r) {
			s := ledger.Stable(r) // r may be freed and reused once the shard is unlocked
			out = append(out, s)
			seen[s.ID()] = true
			pending = pending || s.Live()
		}
		return true
	})
	ledger.Failures(func(recs []*tracker.Record) []*tracker.Record {
		rest := recs[:0]
		for _, r := range recs {
			if _, done := reported.ids[r.ID()]; done {
				continue // reported while it was still in the ledger
			}
			if keep(r) {
				if !seen[r.ID()] { // the safety net keeps it before it leaves the ledger
					out = append(out, r)
				}
				if consume {
					continue
				}
			}
			rest = append(rest, r)
		}
		clear(recs[len(rest):])
		return rest
	})
	if consume && once {
		if reported.ids == nil {
			reported.ids = map[uint64]struct{}{}
		}
		for _, r := range out {
			reported.ids[r.ID()] = struct{}{}
		}
	}
	return out, pending
}

// LeakError is the error the test mode returns. It wraps ErrLeaked and
// holds the records it found.
type LeakError struct {
	Records []*tracker.Record
	report  string
}

func (e *LeakError) Error() string { return e.report }

// Unwrap returns ErrLeaked.
func (e *LeakError) Unwrap() error { return ErrLeaked }

// A Recorder is a TestingT that keeps what the test mode reports instead of
// failing a test. Tests of leak checks use it: a fixture that leaks on
// purpose must be reported, and the test asserts on the report.
type Recorder struct {
	TestName string // what Name returns: the name reports give the test

	mu      sync.Mutex
	reports []string
}

// Error records a report.
func (r *Recorder) Error(args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reports = append(r.reports, fmt.Sprint(args...))
}

// Name returns TestName.
func (r *Recorder) Name() string { return r.TestName }

// Reports returns the reports recorded so far.
func (r *Recorder) Reports() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.reports...)
}

// Report returns the reports recorded so far, one after the other.
func (r *Recorder) Report() string { return strings.Join(r.Reports(), "\n") }
