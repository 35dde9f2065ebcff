package cext

import (
	"sync"
	"sync/atomic"

	"github.com/membridge/membridge/tracker"
)

// Tracing: while the ledger keeps every stack, C allocations call back
// into Go (about a microsecond each) and become ledger records with the Go
// stack of the cgo call that made them. Outside that mode the C side only
// counts, and Sync brings the counts into the ledger.

var (
	tracing     atomic.Bool // what the C side was last told
	tracingMu   sync.Mutex
	traced      sync.Map // block address (uintptr) -> *tracker.Record, nil when a limit refused it
	tagNameList [maxTags]atomic.Pointer[string]
)

// FollowChecking makes the C side follow tracker.Checking() and reports
// it: while checking, C allocations are traced into the ledger (each a
// record with the Go stack that led to it) and every block comes from
// malloc one by one, so valgrind and the sanitizers see each; otherwise C
// counts in its own counters and serves small blocks from its size
// classes. Wrappers of C extensions call it before each call into C; it
// costs an atomic load when nothing changed. Blocks keep the books they
// were allocated in, whatever the mode is when they are freed.
func FollowChecking() bool {
	want := tracker.Checking()
	if tracing.Load() != want {
		tracingMu.Lock()
		cSetChecking(want)
		tracing.Store(want)
		tracingMu.Unlock()
	}
	return want
}

// traceAlloc makes the record of a traced C allocation. The C block
// exists already, so a limit cannot refuse it: a refused reservation is
// remembered as nil, and only the counters go without it.
func traceAlloc(addr uintptr, n int64, tag string) {
	rec, err := tracker.AllocateUnwatched(tracker.Request{Kind: KindCExtension, Device: -1, Tag: tag, Bytes: n, Addr: addr}, nil, nil)
	if err != nil {
		traced.Store(addr, (*tracker.Record)(nil))
		return
	}
	traced.Store(addr, rec)
}

// traceFree ends the record of a traced block; false if there was none.
func traceFree(addr uintptr) bool {
	v, ok := traced.LoadAndDelete(addr)
	if !ok {
		return false
	}
	if rec := v.(*tracker.Record); rec != nil {
		rec.Release()
	}
	return true
}

// tagName returns the name of C tag index i.
func tagName(i int) string {
	if i < 0 || i >= maxTags {
		return "c-extension"
	}
	if p := tagNameList[i].Load(); p != nil {
		return *p
	}
	name := cTagName(i)
	if name == "" {
		return "c-extension"
	}
	tagNameList[i].Store(&name)
	return name
}
