// Package gctick runs a function after every garbage collection, on the
// runtime's cleanup goroutine. The ledger arms its nursery there and
// package native flushes its batched frees.
package gctick

import "runtime"

// tick is the object whose cleanup runs after each collection; a pointer
// keeps it out of the tiny allocator, where it could share a block with
// live data and not be collected.
type tick struct{ _ *byte }

// Every runs fn after every garbage collection from now on: a fresh tick
// is unreachable at once, so its cleanup runs after the next collection,
// calls fn and sets up the one after. fn must return quickly and must not
// block on anything a cleanup may wait for.
func Every(fn func()) {
	runtime.AddCleanup(new(tick), func(fn func()) {
		fn()
		Every(fn)
	}, fn)
}
