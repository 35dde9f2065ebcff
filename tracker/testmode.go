package tracker

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"
)

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
	ignoreKinds   map[Kind]bool
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
func IgnoreKinds(kinds ...Kind) Option {
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
	LiveRecords(func(r *Record) bool {
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
// one second; the check returns as soon as nothing is left.
func MaxWait(d time.Duration) Option {
	return optionFunc(func(o *options) { o.maxWait = max(d, 0) })
}

func buildOptions(opts []Option) *options {
	o := &options{
		ignoreTags:  map[string]bool{},
		ignoreKinds: map[Kind]bool{},
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
	return find(buildOptions(opts), func(*Record) bool { return true }, "")
}

// VerifyNone fails t if memory made by this test is left: records made on
// the calling goroutine or on goroutines it started. Call it at the end of
// the test (defer VerifyNone(t)) on the test's own goroutine. When the
// process is not in the test mode (VerifyTestMain not in use), no goroutine
// is known for a record and VerifyNone checks everything, like Find.
func VerifyNone(t TestingT, opts ...Option) {
	if h, ok := t.(interface{ Helper() }); ok {
		h.Helper()
	}
	name := ""
	if n, ok := t.(interface{ Name() string }); ok {
		name = n.Name()
	}
	owned := func(*Record) bool { return true }
	if attribution.Load() {
		g := currentGoroutineID()
		owned = func(r *Record) bool {
			gid, creator := r.goroutines()
			if gid == 0 {
				// Made before attribution was on: only a top-level test
				// with its own frame on the stack can claim it.
				return name != "" && !strings.Contains(name, "/") && testFrame(r.Stack()) == name
			}
			return descendsFrom(gid, creator, g)
		}
	}
	if err := find(buildOptions(opts), owned, name); err != nil {
		t.Error(err)
	}
}

// WithoutAttribution makes VerifyTestMain leave goroutine attribution off,
// so that records are made as in production: without a stack or a
// goroutine when the stack rate says so, and reused after a free (see
// Record.Recycle). It is for tests of those production paths. VerifyNone
// then cannot tell tests apart and blames every live allocation on the
// test that calls it: such tests must not run in parallel.
func WithoutAttribution() Option {
	return optionFunc(func(o *options) { o.noAttribution = true })
}

// VerifyTestMain runs the tests in the test mode and then fails the run if
// any native memory is left. In the test mode every allocation keeps its
// stack (unless MEMBRIDGE_TRACK says otherwise), dropped handles fail the
// test that made them (LeakFail), and each record notes the goroutine that
// made it, so VerifyNone in parallel tests blames the right test. Use it as
//
//	func TestMain(m *testing.M) { tracker.VerifyTestMain(m) }
//
// A run of benchmarks only (-test.run '^$' -test.bench ...) keeps the
// production settings, so the benchmarks measure what a service pays and
// not the test mode's stack and goroutine per allocation; the ledger is
// still checked at the end.
func VerifyTestMain(m TestingM, opts ...Option) {
	o := buildOptions(opts)
	if !benchmarksOnly() {
		EnableTestMode()
		if o.noAttribution {
			attribution.Store(false)
		}
	}
	code := m.Run()
	if code == 0 {
		if err := find(o, func(*Record) bool { return true }, ""); err != nil {
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
// run tests their own way.
func EnableTestMode() {
	if os.Getenv("MEMBRIDGE_TRACK") == "" {
		SetStackRate(1)
	}
	SetLeakPolicy(LeakFail)
	attribution.Store(true)
}

func find(o *options, owned func(*Record) bool, who string) error {
	deadline := time.Now().Add(o.maxWait)
	sleep := time.Millisecond
	for {
		leaks := collect(o, owned, false)
		if len(leaks) == 0 {
			return nil
		}
		if !time.Now().Before(deadline) {
			leaks = collect(o, owned, true)
			if len(leaks) == 0 {
				return nil
			}
			var b strings.Builder
			if who != "" {
				fmt.Fprintf(&b, "%s: ", who)
			}
			WriteLeakReport(&b, leaks)
			return &LeakError{Records: leaks, report: b.String()}
		}
		GC()
		time.Sleep(min(sleep, time.Until(deadline)))
		sleep = min(2*sleep, 100*time.Millisecond)
	}
}

// collect returns the leaks that pass the options and the ownership filter:
// live (or dropped but still allocated) records, and records LeakFail
// reclaimed. With consume, the reclaimed ones it returns are forgotten, so
// each is reported once.
func collect(o *options, owned func(*Record) bool, consume bool) []*Record {
	keep := func(r *Record) bool {
		return !o.ignoreTags[r.Tag()] && !o.ignoreKinds[r.Kind()] && !o.baseline[r.ID()] && owned(r)
	}
	var out []*Record
	LiveRecords(func(r *Record) bool {
		if keep(r) {
			out = append(out, r.stable()) // it may be freed and reused once the shard is unlocked
		}
		return true
	})
	failures.Lock()
	rest := failures.recs[:0]
	for _, r := range failures.recs {
		if keep(r) {
			out = append(out, r)
			if consume {
				continue
			}
		}
		rest = append(rest, r)
	}
	clear(failures.recs[len(rest):])
	failures.recs = rest
	failures.Unlock()
	return out
}

// LeakError is the error the test mode returns. It wraps ErrLeaked and
// holds the records it found.
type LeakError struct {
	Records []*Record
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
