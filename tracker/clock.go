package tracker

import (
	"sync/atomic"
	"time"
)

// Records carry the time they were made, and reading the clock costs about
// as much as the rest of the ledger's work on an allocation (25-30 ns on
// a virtual machine). So while the ledger is busy a timer stores the time
// every clockTick and records take the stored time: one atomic load. When
// a tick finds no allocation since the one before, the timer stops; the
// next allocation reads the clock itself and starts it again. A record's
// age is therefore too old by at most about one tick (more if the
// runtime runs timers late under load), never too young.
const clockTick = time.Millisecond

var (
	clockNow  atomic.Int64 // time since epoch at the last tick
	clockOn   atomic.Bool  // the timer is running
	clockSeen atomic.Uint64
	// clockTimer is made stopped at init, so that the tick reading it is
	// ordered after the write; it is Reset only by startClock's CAS winner
	// or by the tick itself.
	clockTimer *time.Timer
)

func init() {
	clockTimer = time.AfterFunc(time.Hour, tickClock)
	clockTimer.Stop()
}

// coarseSinceEpoch returns the time since epoch, at most about one
// clockTick old.
func coarseSinceEpoch() time.Duration {
	if !clockOn.Load() {
		return startClock()
	}
	return time.Duration(clockNow.Load())
}

func startClock() time.Duration {
	t := sinceEpoch()
	clockNow.Store(int64(t))
	if clockOn.CompareAndSwap(false, true) {
		clockSeen.Store(nextID.Load())
		clockTimer.Reset(clockTick)
	}
	return t
}

// tickClock stores the time and runs again while allocations go on.
func tickClock() {
	clockNow.Store(int64(sinceEpoch()))
	if id := nextID.Load(); id != clockSeen.Load() {
		clockSeen.Store(id)
		clockTimer.Reset(clockTick)
		return
	}
	// An allocation that saw clockOn still true read the time just stored.
	clockOn.Store(false)
}
