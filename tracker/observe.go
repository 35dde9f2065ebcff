package tracker

import (
	"sync"
	"sync/atomic"
)

// An Observer hears of the ledger's events, for as long as it is added
// ([AddObserver]): the event history (tracker/history), scopes
// (tracker/scope) and per-site totals (tracker/sites) are observers. Its
// methods run on the goroutine that caused the event (the safety net's
// on the runtime's cleanup goroutine), after the ledger has counted it;
// they must be quick, must not allocate or free through membridge, and
// must not keep a record past the call unless it has a stack (see
// Record.Retire).
type Observer interface {
	// Allocated: r became live (Commit).
	Allocated(r *Record)
	// Freed: its owner freed r (Release).
	Freed(r *Record)
	// HandedOff: ownership of r went to C (HandOff).
	HandedOff(r *Record)
	// Dropped: the safety net found r's handle dropped without a free;
	// reclaimed says whether the memory was given back (LeakFree,
	// LeakFail) or is still live (LeakReport).
	Dropped(r *Record, reclaimed bool)
	// Refused: a limit refused a reservation.
	Refused(err *LimitError)
	// Failed: the allocator failed after r was reserved (Cancel).
	Failed(r *Record)
	// Retried: Allocate retried the allocation of the reserved r after
	// running the reliefs, and it succeeded or not.
	Retried(r *Record, succeeded bool)
}

// observing is read on every ledger event: with no observer, each hook in
// Commit, Release, HandOff, Cancel, the safety net and the limit check
// costs this one atomic load. It changes only under obsMu, with observers.
var (
	observing atomic.Uint32 // how many observers are added
	observers atomic.Pointer[[]Observer]
	obsMu     sync.Mutex
)

// AddObserver adds o to the ledger's observers; remove takes it away
// again, and is idempotent. An observer added twice hears each event twice.
func AddObserver(o Observer) (remove func()) {
	obsMu.Lock()
	defer obsMu.Unlock()
	setObservers(append(currentObservers(), o))
	var once sync.Once
	return func() {
		once.Do(func() {
			obsMu.Lock()
			defer obsMu.Unlock()
			list := currentObservers()
			for i, x := range list {
				if x == o {
					setObservers(append(list[:i:i], list[i+1:]...))
					return
				}
			}
		})
	}
}

func currentObservers() []Observer {
	if p := observers.Load(); p != nil {
		return *p
	}
	return nil
}

// setObservers publishes list (a fresh slice); the caller holds obsMu.
func setObservers(list []Observer) {
	observers.Store(&list)
	observing.Store(uint32(len(list)))
}

// The events the hot path passes to observe.
const (
	evAlloc uint8 = iota + 1
	evFree
	evHandOff
	evLeak
	evAllocFailed
)

// observe tells every observer of an event of r; the ledger calls it while
// observing is non-zero.
func (r *Record) observe(op uint8) {
	for _, o := range currentObservers() {
		switch op {
		case evAlloc:
			o.Allocated(r)
		case evFree:
			o.Freed(r)
		case evHandOff:
			o.HandedOff(r)
		case evLeak:
			o.Dropped(r, r.state.Load() == stateReclaimed)
		case evAllocFailed:
			o.Failed(r)
		}
	}
}

// retried records that Allocate ran the reliefs after the owner's
// allocator ran out of memory and tried again, and whether that retry
// succeeded. It counts the retry in Pressure and tells the observers (the
// event history notes an EventRetry with the record's kind, device, tag,
// size and stack).
func (r *Record) retried(succeeded bool) {
	countRetry(succeeded)
	if observing.Load() != 0 {
		for _, o := range currentObservers() {
			o.Retried(r, succeeded)
		}
	}
}

// observeLimit tells the observers of a reservation a limit refused.
func observeLimit(err *LimitError) {
	for _, o := range currentObservers() {
		o.Refused(err)
	}
}
