package native

import (
	"context"

	"github.com/membridge/membridge/tracker"
)

// WaitFor makes an allocation that a limit refuses (tracker.SetLimit,
// tracker.SetTagLimit) wait until enough memory is released or ctx ends,
// instead of failing at once: back-pressure for services. Before waiting it
// runs the ledger's relief (cache eviction, garbage collection) and tries
// once more. When ctx ends first the error wraps both ErrLimit and ctx's
// error; a failing allocator still gets ErrOutOfMemory at once, so a
// caller can tell "over budget, retry later" from "out of memory":
//
//	b, err := native.Alloc("response", n, native.WaitFor(ctx))
//	switch {
//	case errors.Is(err, native.ErrLimit):
//		// 503 with Retry-After
//	case err != nil:
//		// 500
//	}
func WaitFor(ctx context.Context) AllocOption { return waitForOption{ctx} }

type waitForOption struct{ ctx context.Context }

func (w waitForOption) applyAlloc(o allocOptions) allocOptions {
	o.ctx = w.ctx
	return o
}

// AllocContext is Alloc with WaitFor(ctx).
func AllocContext(ctx context.Context, tag string, n int, opts ...AllocOption) (*Buffer, error) {
	f := fillNone
	if tracker.Checking() {
		f = fillJunk
	}
	o := parseAllocOptions(opts)
	o.ctx = ctx
	return alloc(KindCHeap, tag, n, f, o)
}
