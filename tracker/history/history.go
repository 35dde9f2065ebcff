// Package history keeps the last events of the ledger, for debugging: each
// allocation, free, hand-off to C, dropped handle, limit refusal, failed
// allocation and retry, with its kind, device, tag, size and stack, and the
// live bytes of its kind and device just after it. Package timeline draws
// them. It is an observer of the ledger (tracker.AddObserver): while it is
// off, which is the default, the ledger pays one atomic load per event.
package history

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/membridge/membridge/tracker"
)

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
	EventRetry                          // the owner retried an allocation after an out-of-memory (tracker.Allocate)
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
	At       time.Duration // since Start
	Op       EventOp
	Kind     tracker.Kind
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

// epoch is what Event.At counts from: when the package was initialised,
// with the monotonic clock's reading.
var epoch = time.Now()

// Start returns the time Event.At counts from.
func Start() time.Time { return epoch }

func sinceEpoch() time.Duration { return time.Since(epoch) }

// kindDevice names one live-bytes track of the history.
type kindDevice struct {
	kind   tracker.Kind
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

// Enable starts keeping the last capacity ledger events (at least 16),
// replacing any history kept so far. While it is off, which is the
// default, the ledger pays one atomic load per event for it.
func Enable(capacity int) {
	h := &eventHistory{buf: make([]Event, max(capacity, 16)), live: map[kindDevice]int64{}}
	// Seed the live tracks with what is live now, so LiveBytes is absolute.
	for _, s := range tracker.AllStats() {
		h.live[kindDevice{s.Kind, int32(s.Device)}] += s.LiveBytes
	}
	histMu.Lock()
	defer histMu.Unlock()
	history.Store(h)
	if remove == nil {
		remove = tracker.AddObserver(observer{})
	}
}

// histMu keeps the history pointer and its observer in step when Enable
// and Disable race.
var (
	histMu sync.Mutex
	remove func() // takes the observer away; nil while the history is off
)

// Disable stops keeping events and drops those kept.
func Disable() {
	histMu.Lock()
	defer histMu.Unlock()
	history.Store(nil)
	if remove != nil {
		remove()
		remove = nil
	}
}

// Enabled reports whether Enable is in force.
func Enabled() bool { return history.Load() != nil }

// Events returns the events kept, oldest first, and how many older ones
// the ring has already let go. It returns nil, 0 while the history is off.
func Events() (events []Event, lost uint64) {
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

// observer adds the ledger's events to the history while it is on.
type observer struct{}

func (observer) Allocated(r *tracker.Record) { add(r, EventAlloc, r.Bytes(), false) }
func (observer) Freed(r *tracker.Record)     { add(r, EventFree, -r.Bytes(), false) }
func (observer) HandedOff(r *tracker.Record) { add(r, EventHandOff, -r.Bytes(), false) }
func (observer) Failed(r *tracker.Record)    { add(r, EventAllocFailed, 0, false) }

func (observer) Dropped(r *tracker.Record, reclaimed bool) {
	var delta int64
	if reclaimed {
		delta = -r.Bytes() // LeakReport keeps dropped memory live
	}
	add(r, EventLeak, delta, false)
}

func (observer) Retried(r *tracker.Record, succeeded bool) { add(r, EventRetry, 0, succeeded) }

func (observer) Refused(err *tracker.LimitError) {
	if h := history.Load(); h != nil {
		h.add(Event{At: sinceEpoch(), Op: EventLimit, Kind: err.Kind, Device: -1, Tag: err.Tag, Bytes: err.Bytes}, 0)
	}
}

// add notes an event of r that moved its kind and device's live bytes by
// delta.
func add(r *tracker.Record, op EventOp, delta int64, succeeded bool) {
	if h := history.Load(); h != nil {
		h.add(Event{
			At: sinceEpoch(), Op: op, Kind: r.Kind(), Device: r.Device(), Tag: r.Tag(),
			Bytes: r.Bytes(), RecordID: r.ID(), Stack: r.Stack(), Succeeded: succeeded,
		}, delta)
	}
}
