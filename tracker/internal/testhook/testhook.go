// Package testhook is what the ledger (package tracker) lends its test mode
// (package tracker/leaktest) and nobody else: the test mode's switches and
// the parts of a record only a leak check reads. Package tracker fills it
// in when it is initialised.
package testhook

import "sync/atomic"

// Ledger holds the ledger's functions for the test mode; R is
// *tracker.Record.
type Ledger[R any] struct {
	// Goroutines returns the goroutine that reserved r and its creator,
	// when the test mode noted them (0, 0 otherwise).
	Goroutines func(r R) (gid, creator uint64)
	// Stable returns r, or a copy of r if r may be recycled after its free,
	// for reading outside LiveRecords; it is called inside LiveRecords.
	Stable func(r R) R
	// Failures calls fn with the records the safety net reclaimed under
	// LeakFail, holding their lock, and keeps the list fn returns.
	Failures func(fn func(recs []R) []R)
	// Start turns the test mode on (every stack, checking, LeakFail and
	// goroutine attribution, unless the environment says otherwise);
	// Leave restores what Start replaced.
	Start, Leave func()
}

// RunChecked says that the whole run is checked at its end (VerifyTestMain,
// EnableTestMode), so that the safety net need not log the drops LeakFail
// keeps for that check.
var RunChecked atomic.Bool

var ledger any

// Set is called by package tracker's initialisation.
func Set[R any](l *Ledger[R]) { ledger = l }

// Get returns what Set was given; R must be the same type.
func Get[R any]() *Ledger[R] { return ledger.(*Ledger[R]) }
