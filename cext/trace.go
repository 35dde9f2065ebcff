package cext

import (
	"runtime"
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

// FollowDebug turns the tracing of C allocations on when tracker.Checking()
// is true and off otherwise, and reports which it is. Wrappers of C
// extensions call it before each call into C; it costs an atomic load when
// nothing changed. Blocks keep the books they were allocated in, whatever
// the mode is when they are freed.
func FollowDebug() bool {
	want := tracker.Checking()
	if tracing.Load() != want {
		tracingMu.Lock()
		cSetTracing(want)
		tracing.Store(want)
		tracingMu.Unlock()
	}
	return want
}

// traceAlloc makes the record of a traced C allocation. The C block
// exists already, so a limit cannot refuse it: a refused reservation is
// remembered as nil, and only the counters go without it.
func traceAlloc(addr uintptr, n int64, tag string) {
	rec, err := tracker.Reserve(KindCExtension, -1, tag, n, callbackFrames())
	if err != nil {
		traced.Store(addr, (*tracker.Record)(nil))
		return
	}
	rec.Commit(addr, nil)
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

// cgoCallbackFrames is how many frames a trace hook's caller has between
// it and the Go function that called C (the export wrapper and the
// runtime's callback frames), found once; 0 until then.
var cgoCallbackFrames atomic.Int32

// callbackFrames returns the frames of traceAlloc's caller to leave out of
// a trace record's stack, so that it starts at the Go code that called C
// (its _Cfunc_ stub). A callback on a thread C started has no Go caller:
// then only the hook itself is left out.
func callbackFrames() int {
	if n := cgoCallbackFrames.Load(); n > 0 {
		return int(n)
	}
	pcs := make([]uintptr, 32)
	// Frames: runtime.Callers, callbackFrames, traceAlloc, then the hook.
	pcs = pcs[:runtime.Callers(3, pcs)]
	frames := runtime.CallersFrames(pcs)
	for i := 0; ; i++ {
		f, more := frames.Next()
		if f.Function == "runtime.cgocall" {
			// Reserve's skip 0 keeps traceAlloc; i+2 starts after cgocall.
			cgoCallbackFrames.Store(int32(i + 2))
			return i + 2
		}
		if !more {
			return 1
		}
	}
}
