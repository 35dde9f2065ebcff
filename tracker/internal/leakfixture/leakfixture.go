// Package leakfixture holds the leak scenarios that the test mode's own
// tests run in a child process: tests that drop a handle, keep a leak,
// leak in parallel, or leak from a goroutine that outlives them. Its tests
// run them in a package without TestMain (this one) and under
// leaktest.VerifyTestMain (package withmain), and assert from the child's
// output which tests pass and which fail, and what the reports name.
//
// A scenario skips itself unless it runs in such a child (see Child), so a
// plain go test of either package runs only the assertions.
package leakfixture

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/membridge/membridge/tracker"
	"github.com/membridge/membridge/tracker/internal/ledgertest"
	"github.com/membridge/membridge/tracker/leaktest"
)

// childEnv marks a child process that runs the scenarios.
const childEnv = "MEMBRIDGE_LEAKFIXTURE"

// Buffer stands for an owner's handle (native.Buffer): the safety net
// watches it, Free releases its record.
type Buffer struct{ rec *tracker.Record }

var nextAddr atomic.Uintptr

// kindHeap is the kind of the stand-in allocations; the reports name it
// c-heap, as they would native's memory.
var kindHeap = ledgertest.KindCHeap

// Alloc makes an n-byte stand-in allocation tagged tag, watched by the
// safety net. Nothing is allocated: the ledger's record is what matters.
func Alloc(tag string, n int64) *Buffer {
	b := &Buffer{}
	rec, err := tracker.Allocate(b, tracker.Request{Kind: kindHeap, Device: -1, Tag: tag, Bytes: n, Addr: 0x10000 + nextAddr.Add(0x100)}, nil, nil)
	if err != nil {
		panic(err)
	}
	b.rec = rec
	return b
}

// Free releases the buffer's record.
func (b *Buffer) Free() { b.rec.Release() }

// kept holds the leaks the scenarios keep reachable.
var kept []*Buffer

// Child skips t unless it runs in a child process started by Run.
func Child(t testing.TB) {
	t.Helper()
	if os.Getenv(childEnv) == "" {
		t.Skip("a leak scenario: it runs in a child process of the package's tests")
	}
}

// wait blocks until ch is closed, or fails t after a bound that no healthy
// run reaches (a scenario's partner did not run).
func wait(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(30 * time.Second):
		t.Fatalf("gave up waiting for %s", what)
	}
}

//go:noinline
func dropOne(tag string) {
	Alloc(tag, 512) // the handle is dropped on return, never freed
}

// Dropped drops a handle without Free: the test must fail and its report
// name dropOne.
func Dropped(t *testing.T) {
	defer leaktest.VerifyNone(t)
	dropOne("dropped")
}

// DroppedUnchecked drops a handle in a test that does not call VerifyNone:
// only a check of the whole run (VerifyTestMain) can fail for it.
func DroppedUnchecked(t *testing.T) {
	dropOne("dropped-unchecked")
}

// Kept keeps a leak reachable from a global: the test must fail.
func Kept(t *testing.T) {
	defer leaktest.VerifyNone(t)
	kept = append(kept, Alloc("kept", 256))
}

// Clean allocates and frees: it must pass, whatever earlier tests left.
func Clean(t *testing.T) {
	defer leaktest.VerifyNone(t)
	Alloc("clean", 128).Free()
}

// IgnoredTag leaves a buffer live until after its check, under a tag the
// check ignores: it must pass.
func IgnoredTag(t *testing.T) {
	b := Alloc("ignored", 64)
	t.Cleanup(b.Free) // runs after the deferred check
	defer leaktest.VerifyNone(t, leaktest.IgnoreTags("ignored"))
	Alloc("clean", 32).Free()
}

// IgnoredTagKept keeps a leak under a tag its check ignores: the test
// passes; only a check of the whole run (VerifyTestMain) reports it.
func IgnoredTagKept(t *testing.T) {
	defer leaktest.VerifyNone(t, leaktest.IgnoreTags("ignored-kept"))
	kept = append(kept, Alloc("ignored-kept", 72))
}

var (
	parallelDropped = make(chan struct{})
	parallelKept    = make(chan struct{})
	parallelChecked = make(chan struct{})
)

// ParallelDropper drops a handle and returns once ParallelClean has
// checked, with the drop found by the safety net: it must fail.
func ParallelDropper(t *testing.T) {
	t.Parallel()
	defer leaktest.VerifyNone(t)
	dropOne("parallel-dropped")
	close(parallelDropped)
	wait(t, parallelChecked, "ParallelClean's check")
}

// ParallelKeeper keeps a leak and returns once ParallelClean has checked:
// it must fail.
func ParallelKeeper(t *testing.T) {
	t.Parallel()
	defer leaktest.VerifyNone(t)
	kept = append(kept, Alloc("parallel-kept", 96))
	close(parallelKept)
	wait(t, parallelChecked, "ParallelClean's check")
}

// ParallelClean runs its check while the other two tests' leaks are live
// and the dropped handle has been found (reclaimed, its record waiting for
// the test that made it): it must pass.
func ParallelClean(t *testing.T) {
	t.Parallel()
	defer close(parallelChecked)
	defer leaktest.VerifyNone(t)
	wait(t, parallelDropped, "ParallelDropper's drop")
	wait(t, parallelKept, "ParallelKeeper's leak")
	for deadline := time.Now().Add(30 * time.Second); tracker.TagStats("parallel-dropped").DroppedCount == 0; {
		if time.Now().After(deadline) {
			t.Fatal("the safety net did not find ParallelDropper's handle")
		}
		tracker.GC()
		runtime.Gosched()
	}
	Alloc("clean", 128).Free()
}

// ParentDefer runs a subtest that allocates, then pauses in t.Parallel until its
// parent's deferred check has run, then frees: neither test may fail.
func ParentDefer(t *testing.T) {
	defer leaktest.VerifyNone(t)
	t.Run("sub", func(t *testing.T) {
		defer leaktest.VerifyNone(t)
		b := Alloc("before-parallel", 20)
		t.Parallel()
		b.Free()
	})
}

// ParentCleanup checks in t.Cleanup, which runs after its parallel
// subtests: a leak of a subtest without a check of its own fails the
// parent.
func ParentCleanup(t *testing.T) {
	t.Cleanup(func() { leaktest.VerifyNone(t) })
	t.Run("sub", func(t *testing.T) {
		t.Parallel()
		kept = append(kept, Alloc("subtest-kept", 24))
	})
}

// Grandchild starts a goroutine that never allocates and is still running
// at the check; the goroutine it started keeps a leak: the test must fail.
func Grandchild(t *testing.T) {
	release, done := make(chan struct{}), make(chan struct{})
	t.Cleanup(func() { close(release) }) // after the deferred check
	defer leaktest.VerifyNone(t)
	go func() {
		go func() {
			kept = append(kept, Alloc("grandchild", 40))
			close(done)
		}()
		<-release
	}()
	wait(t, done, "the grandchild goroutine")
}

var (
	outliveStart = make(chan struct{})
	outliveDone  = make(chan struct{})
)

// OutliveStart starts a goroutine that allocates, and keeps, only after
// the test has returned: the test must pass (nothing was left when it
// checked).
func OutliveStart(t *testing.T) {
	defer leaktest.VerifyNone(t)
	go func() {
		<-outliveStart
		kept = append(kept, Alloc("outlived", 48))
		close(outliveDone)
	}()
}

// OutliveLater lets OutliveStart's goroutine allocate, and waits for it:
// it must pass (the memory is not this test's).
func OutliveLater(t *testing.T) {
	defer leaktest.VerifyNone(t)
	close(outliveStart)
	wait(t, outliveDone, "OutliveStart's goroutine")
}

// Mode logs the ledger's settings as the test sees them.
func Mode(tb testing.TB) {
	fmt.Printf("mode: stackrate=%d policy=%v\n", tracker.StackRate(), tracker.CurrentLeakPolicy())
}

// Run runs the test binary again with args, in the child mode and with env
// added, and returns its combined output and exit code.
func Run(t *testing.T, env []string, args ...string) (out string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], append([]string{"-test.count=1", "-test.timeout=90s", "-test.parallel=4"}, args...)...)
	cmd.Env = append(append(os.Environ(), childEnv+"=1"), env...)
	b, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("child %v: %v\n%s", args, ctx.Err(), b)
	}
	if ee, ok := err.(*exec.ExitError); ok {
		return string(b), ee.ExitCode()
	} else if err != nil {
		t.Fatalf("child %v: %v", args, err)
	}
	return string(b), 0
}

var (
	marker = regexp.MustCompile(`^=== (?:RUN|CONT|NAME|PAUSE)\s+(\S+)`)
	result = regexp.MustCompile(`^\s*--- (PASS|FAIL|SKIP): (\S+)`)
)

// Outcomes reads a verbose (-test.v) run's output: each test's result
// (PASS, FAIL, SKIP) and the lines it printed.
func Outcomes(out string) (results, output map[string]string) {
	results, output = map[string]string{}, map[string]string{}
	cur := ""
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if m := marker.FindStringSubmatch(line); m != nil {
			cur = m[1]
			continue
		}
		if m := result.FindStringSubmatch(line); m != nil {
			results[m[2]] = m[1]
			cur = m[2]
			continue
		}
		if cur != "" {
			output[cur] += line + "\n"
		}
	}
	return results, output
}

// CheckPerTestBlame runs the scenarios whose results must be the same with
// VerifyNone alone and under VerifyTestMain, asserts which tests fail (those
// that leaked, and no other) and what their reports name, and returns the
// child's output for the caller's own checks.
func CheckPerTestBlame(t *testing.T) string {
	t.Helper()
	out, code := Run(t, nil, "-test.v",
		"-test.run=^TestFixture(Dropped|Kept|CleanAfterLeaks|IgnoredTag|ParallelDropper|ParallelKeeper|ParallelClean|ParentDefer|ParentCleanup|Grandchild)$")
	results, output := Outcomes(out)
	require.Equal(t, map[string]string{
		"TestFixtureDropped":           "FAIL", // dropped a handle without Free
		"TestFixtureKept":              "FAIL", // kept a leak in a global
		"TestFixtureCleanAfterLeaks":   "PASS", // runs after both: not blamed
		"TestFixtureIgnoredTag":        "PASS",
		"TestFixtureParallelDropper":   "FAIL",
		"TestFixtureParallelKeeper":    "FAIL",
		"TestFixtureParallelClean":     "PASS", // checked while the other two's leaks were live
		"TestFixtureParentDefer":       "PASS", // checked while its subtest, paused in t.Parallel, held memory
		"TestFixtureParentDefer/sub":   "PASS",
		"TestFixtureParentCleanup":     "FAIL", // its check runs after the subtest, which leaked
		"TestFixtureParentCleanup/sub": "PASS", // no check of its own
		"TestFixtureGrandchild":        "FAIL", // through a goroutine that never allocated
	}, results, out)
	assert.Equal(t, 1, code)
	for _, want := range []string{
		"membridge: LEAK of 512 bytes in 1 allocation from 1 site",
		`tag "dropped"`, "made by TestFixtureDropped", "1 dropped without Free",
		"leakfixture.dropOne", "leakfixture.go:",
	} {
		assert.Contains(t, output["TestFixtureDropped"], want)
	}
	for test, want := range map[string]string{
		"TestFixtureKept":            `256 bytes in 1 allocation, tag "kept"`,
		"TestFixtureParallelDropper": `512 bytes in 1 allocation, tag "parallel-dropped"`,
		"TestFixtureParallelKeeper":  `96 bytes in 1 allocation, tag "parallel-kept"`,
		"TestFixtureParentCleanup":   `tag "subtest-kept"`,
		"TestFixtureGrandchild":      `tag "grandchild"`,
	} {
		assert.Contains(t, output[test], want)
	}
	for name, o := range output {
		assert.LessOrEqual(t, strings.Count(o, "membridge: LEAK"), 1, "%s reported more than one leak report:\n%s", name, o)
	}
	return out
}
