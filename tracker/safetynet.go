package tracker

import (
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/membridge/membridge/tracker/internal/stackutil"
)

// LeakPolicy says what the safety net does with a handle the program
// dropped without freeing it.
type LeakPolicy int32

const (
	// LeakFree reclaims the memory through the owner's Reclaimer, counts the
	// leak and reports it once per allocation site. The default outside
	// tests: a dropped handle costs a report, not the memory.
	LeakFree LeakPolicy = iota
	// LeakReport counts the leak and reports it once per allocation site,
	// and leaves the memory allocated: the ledger keeps the record, marked
	// dropped, so reports and profiles show it.
	LeakReport
	// LeakFail reclaims the memory like LeakFree and keeps the record for the
	// test mode, which fails the test that made the allocation (VerifyNone)
	// or the run (VerifyTestMain). It is the test mode's default. It logs
	// each site once like LeakFree, except when the whole run is checked at
	// its end (VerifyTestMain, EnableTestMode), as that check reports it.
	LeakFail
)

func (p LeakPolicy) String() string {
	switch p {
	case LeakFree:
		return "free"
	case LeakReport:
		return "report"
	case LeakFail:
		return "fail"
	}
	return fmt.Sprintf("LeakPolicy(%d)", int32(p))
}

var policy atomic.Int32

func init() {
	p, err := parseLeakPolicy(os.Getenv("MEMBRIDGE_LEAKS"))
	if err != nil {
		fmt.Fprintf(os.Stderr, "membridge: %v; using free\n", err)
	}
	policy.Store(int32(p))
}

// parseLeakPolicy reads a policy as MEMBRIDGE_LEAKS spells it: free (also
// the empty string), report or fail. It returns LeakFree with an error for
// anything else.
func parseLeakPolicy(s string) (LeakPolicy, error) {
	switch s {
	case "", "free":
		return LeakFree, nil
	case "report":
		return LeakReport, nil
	case "fail":
		return LeakFail, nil
	}
	return LeakFree, fmt.Errorf("MEMBRIDGE_LEAKS=%q: want free, report or fail", s)
}

// SetLeakPolicy sets what the safety net does from now on and returns the
// previous policy.
func SetLeakPolicy(p LeakPolicy) (previous LeakPolicy) {
	return LeakPolicy(policy.Swap(int32(p)))
}

// CurrentLeakPolicy returns the policy in force.
func CurrentLeakPolicy() LeakPolicy { return LeakPolicy(policy.Load()) }

var (
	leakHandler atomic.Pointer[func(r *Record)]
	loggedSites sync.Map // site string -> struct{}
)

// SetLeakHandler makes h hear of every dropped handle the safety net finds,
// in place of the default handler, which logs each allocation site once
// with log/slog at Warn level; nil restores the default. h runs on the
// runtime's cleanup goroutine and must return quickly.
func SetLeakHandler(h func(r *Record)) {
	if h == nil {
		leakHandler.Store(nil)
		return
	}
	leakHandler.Store(&h)
}

func logLeakOncePerSite(r *Record) {
	site := stackutil.Site(r.Stack())
	if site == "" {
		site = r.Kind().String() + "/" + r.Tag()
	}
	if _, seen := loggedSites.LoadOrStore(site, struct{}{}); seen {
		return
	}
	var b strings.Builder
	stackutil.WriteStack(&b, r.Stack(), "  ")
	slog.Warn("membridge: handle dropped without Free",
		"kind", r.Kind().String(), "tag", r.Tag(), "bytes", r.bytes, "device", r.Device(),
		"age", r.Age().Round(1e6).String(), "policy", CurrentLeakPolicy().String(),
		"stack", strings.TrimSpace(b.String()))
}

// failures keeps the records LeakFail reclaimed until the test mode reports them.
var failures struct {
	sync.Mutex
	recs []*Record
}

// onDropped is the cleanup the safety net attaches to each handle. It runs
// only when the handle became unreachable without an explicit free, and
// does nothing if the memory has moved to a later handle since.
func onDropped(d dropArg) {
	r := d.r
	if r.watchSeq.Load() != d.seq {
		return
	}
	p := CurrentLeakPolicy()
	if r.state.Load() != stateLive {
		return
	}
	// The log goes out before the state changes: a check that sees the
	// drop may end the test binary at once.
	logDrop(r, p)
	if p == LeakReport {
		if !r.state.CompareAndSwap(stateLive, stateDropped) {
			return
		}
		r.countDrop()
	} else {
		if !r.state.CompareAndSwap(stateLive, stateReclaimed) {
			return
		}
		if p == LeakFail {
			// Kept before it leaves the ledger, so that a check running
			// meanwhile finds it in one place or the other.
			failures.Lock()
			failures.recs = append(failures.recs, r)
			failures.Unlock()
		}
		live.remove(r, leaveFreed)
		wakeLimitWaiters()
		r.countDrop()
		if r.reclaim != nil {
			r.reclaim.Reclaim(r)
		}
	}
	if observing.Load() != 0 {
		r.observe(evLeak)
	}
	if h := leakHandler.Load(); h != nil {
		(*h)(r)
	}
}

// logDrop logs a drop's site once, unless a handler takes drops or the
// test mode reports them: under LeakFail with VerifyTestMain, its check of
// the whole run does, whether or not a VerifyNone did. It runs before the
// record leaves the ledger: a check that sees the drop may end the test
// binary, and the log must be out by then.
func logDrop(r *Record, p LeakPolicy) {
	if leakHandler.Load() == nil && (p != LeakFail || !runChecked.Load()) {
		logLeakOncePerSite(r)
	}
}

func (r *Record) countDrop() {
	r.entry.dropBytes.Add(r.bytes)
	r.entry.dropCount.Add(1)
}

// ForgetDropped takes a record that LeakReport left in the ledger (dropped,
// memory still allocated) out of the books, for a program that has noted
// the leak and accepts it. The memory stays allocated; it is no longer
// counted as live. It returns false for a record in any other state.
func ForgetDropped(r *Record) bool {
	if !r.state.CompareAndSwap(stateDropped, stateReclaimed) {
		return false
	}
	live.remove(r, leaveOut)
	wakeLimitWaiters()
	return true
}
