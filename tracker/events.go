package tracker

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// This file holds the ledger's observers: the opt-in event history, and the
// one flag word the hot path reads to learn whether anyone observes it at
// all. With nothing observing, each hook in Commit, Release, HandOff,
// Cancel, the safety net and the limit check costs one atomic load.

// Bits of observing: who wants to hear of ledger events.
const (
	observeHistory uint32 = 1 << iota // the event history is on
	observeScopes                     // at least one Scope is open
	observeSites                      // allocation sites are being totalled
)

// observing is read on every ledger event; it changes only under obsMu.
var (
	observing atomic.Uint32
	obsMu     sync.Mutex
)

func setObserving(bit uint32, on bool) {
	obsMu.Lock()
	defer obsMu.Unlock()
	v := observing.Load()
	if on {
		v |= bit
	} else {
		v &^= bit
	}
	observing.Store(v)
}

// EventOp says what happened to the ledger in an [Event].
type EventOp uint8

// The events the history keeps.
const (
	EventAlloc       EventOp = iota + 1 // a record became live (Commit)
	EventFree                           // its owner freed it (Release)
	EventHandOff                        // ownership went to C (HandOff)
	EventLeak                           // the safety net found its handle dropped without a free
	EventLimit                          // a reservation was refused by a limit
	EventAllocFailed                    // the allocator failed after the reservation (Cancel): out of memory
	EventRetry                          // the owner retried an allocation after an out-of-memory (Allocate)
)

func (op EventOp) String() string {
	switch op {
	case EventAlloc:
		return "alloc"
	case EventFree:
		return "free"
	case EventHandOff:
		return "hand-off"
	case EventLeak:
		return "leak"
	case EventLimit:
		return "limit"
	case EventAllocFailed:
		return "alloc-failed"
	case EventRetry:
		return "retry"
	}
	return fmt.Sprintf("EventOp(%d)", uint8(op))
}

// An Event is one entry of the history.
type Event struct {
	Seq      uint64        // 1 for the first event since the history was enabled
	At       time.Duration // since the ledger started (see LedgerStart)
	Op       EventOp
	Kind     Kind
	Device   int // -1 for host memory, and for limit refusals (the limit check does not know the device)
	Tag      string
	Bytes    int64
	RecordID uint64    // 0 for limit refusals
	Stack    []uintptr // the allocation stack, when the ledger captured one
	// Succeeded says, for an EventRetry, whether the retried allocation
	// got its memory.
	Succeeded bool

	// LiveBytes is the live bytes of Kind on Device just after the event,
	// as the history counts them: what was live when the history was
	// enabled, plus what it saw allocated since, less what it saw end.
	LiveBytes int64
}

// Time returns the wall-clock time of the event.
func (e Event) Time() time.Time { return epoch.Add(e.At) }

// LedgerStart returns when the ledger started; Event.At counts from it.
func LedgerStart() time.Time { return epoch }

// kindDevice names one live-bytes track of the history.
type kindDevice struct {
	kind   Kind
	device int32
}

// eventHistory is a bounded ring of events. It takes a lock per event: it is
// a debugging aid, opt-in, and the order of LiveBytes must match the order
// of Seq.
type eventHistory struct {
	mu   sync.Mutex
	buf  []Event
	n    uint64 // events written since enabled
	live map[kindDevice]int64
}

var history atomic.Pointer[eventHistory]

// EnableHistory starts keeping the last capacity ledger events (at least
// 16), replacing any history kept so far. While it is off, which is the
// default, the ledger pays one atomic load per event for it.
func EnableHistory(capacity int) {
	h := &eventHistory{buf: make([]Event, max(capacity, 16)), live: map[kindDevice]int64{}}
	// Seed the live tracks with what is live now, so LiveBytes is absolute.
	for _, s := range AllStats() {
		h.live[kindDevice{s.Kind, int32(s.Device)}] += s.LiveBytes
	}
	histMu.Lock()
	defer histMu.Unlock()
	history.Store(h)
	setObserving(observeHistory, true)
}

// histMu keeps the history pointer and its observing bit in step when
// EnableHistory and DisableHistory race.
var histMu sync.Mutex

// DisableHistory stops keeping events and drops those kept.
func DisableHistory() {
	histMu.Lock()
	defer histMu.Unlock()
	history.Store(nil)
	setObserving(observeHistory, false)
}

// HistoryEnabled reports whether EnableHistory is in force.
func HistoryEnabled() bool { return history.Load() != nil }

// History returns the events kept, oldest first, and how many older ones
// the ring has already let go. It returns nil, 0 while the history is off.
func History() (events []Event, lost uint64) {
	h := history.Load()
	if h == nil {
		return nil, 0
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.snapshotLocked()
}

func (h *eventHistory) snapshotLocked() ([]Event, uint64) {
	c := uint64(len(h.buf))
	if h.n <= c {
		return append([]Event(nil), h.buf[:h.n]...), 0
	}
	start := h.n % c
	out := make([]Event, 0, c)
	out = append(out, h.buf[start:]...)
	out = append(out, h.buf[:start]...)
	return out, h.n - c
}

// SetAllocFailedHook calls fn with a copy of the history each time an
// allocation fails for want of memory (an EventAllocFailed) while the
// history is on; nil removes it. fn runs on the failing goroutine, before
// the owner returns its error, so it should be quick or hand the work
// elsewhere. Package timeline uses it to write a trace on out-of-memory.
func SetAllocFailedHook(fn func(history []Event)) {
	if fn == nil {
		allocFailedHook.Store(nil)
		return
	}
	allocFailedHook.Store(&fn)
}

var allocFailedHook atomic.Pointer[func([]Event)]

func (h *eventHistory) add(e Event, delta int64) {
	h.mu.Lock()
	h.n++
	e.Seq = h.n
	kd := kindDevice{e.Kind, int32(e.Device)}
	h.live[kd] += delta
	e.LiveBytes = h.live[kd]
	h.buf[(h.n-1)%uint64(len(h.buf))] = e
	var snap []Event
	hook := allocFailedHook.Load()
	if e.Op == EventAllocFailed && hook != nil {
		snap, _ = h.snapshotLocked()
	}
	h.mu.Unlock()
	if snap != nil {
		(*hook)(snap)
	}
}

// observe is the hook the ledger calls on each event of r while observing
// is non-zero.
func (r *Record) observe(op EventOp) {
	var delta int64
	switch op {
	case EventAlloc:
		delta = r.bytes
	case EventFree, EventHandOff:
		delta = -r.bytes
	case EventLeak:
		if r.state.Load() == stateReclaimed {
			delta = -r.bytes // LeakReport keeps dropped memory live
		}
	}
	obs := observing.Load()
	if obs&observeHistory != 0 {
		if h := history.Load(); h != nil {
			h.add(Event{
				At: sinceEpoch(), Op: op, Kind: r.Kind(), Device: r.Device(),
				Tag: r.Tag(), Bytes: r.bytes, RecordID: r.ID(), Stack: r.Stack(),
			}, delta)
		}
	}
	if obs&observeScopes != 0 && delta != 0 {
		countInScopes(delta)
	}
	if obs&observeSites != 0 && op == EventAlloc && r.Stack() != nil {
		countSite(r)
	}
}

// retried records that Allocate ran Relieve after the owner's allocator
// ran out of memory and tried again, and whether that retry succeeded. It
// counts the retry in Pressure and, with the history on, notes an
// EventRetry with the record's kind, device, tag, size and stack.
func (r *Record) retried(succeeded bool) {
	countRetry(succeeded)
	if observing.Load()&observeHistory != 0 {
		if h := history.Load(); h != nil {
			h.add(Event{
				At: sinceEpoch(), Op: EventRetry, Kind: r.Kind(), Device: r.Device(),
				Tag: r.Tag(), Bytes: r.bytes, RecordID: r.ID(), Stack: r.Stack(), Succeeded: succeeded,
			}, 0)
		}
	}
}

// observeLimit is the hook for a reservation a limit refused.
func observeLimit(k Kind, tag string, n int64) {
	if h := history.Load(); h != nil {
		h.add(Event{At: sinceEpoch(), Op: EventLimit, Kind: k, Device: -1, Tag: tag, Bytes: n}, 0)
	}
}
