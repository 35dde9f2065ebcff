package tracker

import (
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/membridge/membridge/tracker/internal/goroutines"
	"github.com/membridge/membridge/tracker/internal/stackutil"
	"github.com/membridge/membridge/tracker/internal/testhook"
)

// The test mode is on in every test binary from its start: every stack is
// kept, checking is on, a dropped handle is reclaimed and kept for the test
// that made it (LeakFail), and each record notes its goroutine. Package
// tracker/leaktest checks for leaks; this file keeps what must be on before
// any test runs, and what leaktest borrows from the ledger (testhook).

// attribution is the test mode's goroutine attribution (see
// goroutines.Attribution): Reserve reads it with one atomic load.
var attribution = &goroutines.Attribution

// goroutineIDs notes, for the test mode, which goroutine reserves.
func goroutineIDs() (gid, creator uint64) { return goroutines.IDs() }

// runChecked says that the whole run is checked at its end, so that
// LeakFail need not log the drops it keeps (testhook.RunChecked).
var runChecked = &testhook.RunChecked

func init() {
	testhook.Set(&testhook.Ledger[*Record]{
		Goroutines: (*Record).goroutines,
		Stable:     (*Record).stable,
		Failures: func(fn func([]*Record) []*Record) {
			failures.Lock()
			defer failures.Unlock()
			failures.recs = fn(failures.recs)
		},
		Start: startTestMode,
		Leave: leaveTestMode,
	})
}

// benchmarksOnlyArgs is benchmarksOnly for package initialisation, before
// the testing flags exist: it reads the last -test.run and -test.bench in
// args, as go test passes them (-name=value) or as a person may (-name
// value, --name=value). It does not know which other flags take a value,
// so it reads past them; leaktest.VerifyTestMain checks again with the parsed
// flags.
func benchmarksOnlyArgs(args []string) bool {
	run, bench := "", ""
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			break
		}
		if !strings.HasPrefix(a, "-") {
			continue
		}
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if name != "test.run" && name != "test.bench" {
			continue
		}
		if !hasValue && i+1 < len(args) {
			i++
			value = args[i]
		}
		if name == "test.run" {
			run = value
		} else {
			bench = value
		}
	}
	return run == "^$" && bench != ""
}

// A test binary starts in the test mode, so that leaktest.VerifyNone works
// without TestMain, and attributes even the first test's allocations, in
// any test binary that uses the ledger, whether it imports leaktest or not. (The stack
// rate and the policy were read from the environment by the inits of
// stack.go and safetynet.go, which run before this file's.)
func init() {
	if testing.Testing() && !benchmarksOnlyArgs(os.Args[1:]) {
		startTestMode()
	}
}

// production keeps the settings startTestMode replaced, for leaveTestMode.
var production struct {
	sync.Mutex
	saved    bool
	rate     int64
	policy   LeakPolicy
	checking bool
}

// startTestMode turns on the test mode: every stack, checking and LeakFail,
// unless MEMBRIDGE_TRACK, MEMBRIDGE_CHECK and MEMBRIDGE_LEAKS say
// otherwise, and goroutine
// attribution. It reads the environment again: a TestMain may have set a
// variable after the package's init and before VerifyTestMain. (A value
// that does not parse was reported by that init.)
func startTestMode() {
	production.Lock()
	defer production.Unlock()
	rate, policy, check := StackRate(), CurrentLeakPolicy(), Checking()
	if v := os.Getenv("MEMBRIDGE_TRACK"); v == "" {
		SetStackRate(1)
	} else if r, err := stackutil.ParseTrackMode(v); err == nil {
		SetStackRate(r)
	}
	if v := os.Getenv("MEMBRIDGE_LEAKS"); v == "" {
		SetLeakPolicy(LeakFail)
	} else if p, err := parseLeakPolicy(v); err == nil {
		SetLeakPolicy(p)
	}
	if on, err := parseCheck(os.Getenv("MEMBRIDGE_CHECK")); os.Getenv("MEMBRIDGE_CHECK") == "" || err != nil {
		SetChecking(true)
	} else {
		SetChecking(on)
	}
	attribution.Store(true)
	if !production.saved {
		production.saved, production.rate, production.policy, production.checking = true, rate, policy, check
	}
}

// leaveTestMode restores what startTestMode replaced.
func leaveTestMode() {
	production.Lock()
	defer production.Unlock()
	if !production.saved {
		return
	}
	attribution.Store(false)
	SetStackRate(production.rate)
	SetLeakPolicy(production.policy)
	SetChecking(production.checking)
	production.saved = false
}
