package tracker

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

// This file holds what the ledger does under memory pressure: the relief
// steps an owner
// runs before it gives up on an allocation, waiting for a limit with a
// context (back-pressure), and the counters that say why an allocation
// succeeded late. The ledger knows nothing of C: owners hand their
// allocators to Allocate (allocate.go), which relieves and retries around
// them.

// PressureStats counts what membridge did under memory pressure since the
// process started.
type PressureStats struct {
	LimitWaits        int64 // reservations that waited for a limit (Request.Context)
	LimitWaitTimeouts int64 // of those, the ones whose context ended first
	Reliefs           int64 // calls of Relieve
	ReliefBytes       int64 // bytes registered reliefs said they freed
	GCRuns            int64 // garbage collections Relieve ran
	GCSkips           int64 // collections skipped: the last one freed nothing a moment ago
	Retries           int64 // allocations retried after a relief
	RetrySuccesses    int64 // of those, the ones that then succeeded
}

var pressure struct {
	limitWaits, limitWaitTimeouts atomic.Int64
	reliefs, reliefBytes, gcRuns  atomic.Int64
	gcSkips                       atomic.Int64
	retries, retrySuccesses       atomic.Int64
	_                             [64]byte
}

// Pressure returns the pressure counters.
func Pressure() PressureStats {
	return PressureStats{
		LimitWaits:        pressure.limitWaits.Load(),
		LimitWaitTimeouts: pressure.limitWaitTimeouts.Load(),
		Reliefs:           pressure.reliefs.Load(),
		ReliefBytes:       pressure.reliefBytes.Load(),
		GCRuns:            pressure.gcRuns.Load(),
		GCSkips:           pressure.gcSkips.Load(),
		Retries:           pressure.retries.Load(),
		RetrySuccesses:    pressure.retrySuccesses.Load(),
	}
}

// countRetry counts that an allocation was retried after a relief, and
// whether the retry succeeded.
func countRetry(succeeded bool) {
	pressure.retries.Add(1)
	if succeeded {
		pressure.retrySuccesses.Add(1)
	}
}

// A Shortage says what an allocation is short of, so that a relief gives
// back only memory that helps: a refusal by a tag's limit is helped only by
// freeing memory of that tag, one by a kind's limit only by memory of that
// kind. Only the allocator itself running out (ShortOfMemory) is helped by
// freeing anything.
type Shortage struct {
	Bytes int64         // what the allocation needs
	Cause ShortageCause // what is short
	Kind  Kind          // the kind asked for; the limited one for ShortKindLimit
	Tag   string        // the tag asked for; the limited one for ShortTagLimit
}

// ShortageCause says what an allocation ran short of.
type ShortageCause uint8

const (
	// ShortOfMemory: the allocator (C heap, device) could not provide the
	// memory. Freeing any memory may help.
	ShortOfMemory ShortageCause = iota
	// ShortKindLimit: the kind's limit (SetLimit) refused the bytes.
	ShortKindLimit
	// ShortTagLimit: the tag's limit (SetTagLimit), a budget, refused the
	// bytes.
	ShortTagLimit
)

// Counts reports whether freeing memory of kind k under tag helps with s:
// whether that memory counts against what is short.
func (s Shortage) Counts(k Kind, tag string) bool {
	switch s.Cause {
	case ShortKindLimit:
		return k == s.Kind
	case ShortTagLimit:
		return tag == s.Tag
	}
	return true
}

// hopeless reports whether s asks for more than its limit allows at all:
// nothing freed would let it fit, so no relief runs (a hostile size would
// otherwise flush whatever counts against the limit).
func (s Shortage) hopeless() bool {
	switch s.Cause {
	case ShortKindLimit:
		l := Limit(s.Kind)
		return l > 0 && s.Bytes > l
	case ShortTagLimit:
		l := TagLimit(s.Tag)
		return l > 0 && s.Bytes > l
	}
	return false
}

// live returns the live bytes of the total that is short (never negative,
// even when outside counts made a total so).
func (s Shortage) live() int64 {
	var n int64
	switch s.Cause {
	case ShortKindLimit:
		if int(s.Kind) < MaxKinds {
			n = kindCounters[s.Kind].live(func(e *keyEntry) bool { return e.key.kind == s.Kind })
		}
	case ShortTagLimit:
		if e, ok := tagCounters.Load(s.Tag); ok {
			n = e.(*tagEntry).live(func(e *keyEntry) bool { return e.key.tag == s.Tag })
		}
	default:
		n = LiveBytes()
	}
	return max(n, 0)
}

// ShortageOf returns the shortage that err, from Allocate or an owner's
// allocation, reports: the limit that refused for an error wrapping a
// *LimitError; ShortOfMemory of n bytes for any other.
func ShortageOf(err error, n int64) Shortage {
	var le *LimitError
	if errors.As(err, &le) {
		return le.Shortage()
	}
	return Shortage{Bytes: n, Cause: ShortOfMemory}
}

// relief is one registered way of giving memory back.
type relief struct {
	name string
	fn   func(s Shortage) int64
}

var reliefs struct {
	sync.Mutex
	list []*relief
}

// RegisterRelief adds fn to the steps Relieve runs, after those registered
// before it. fn is told what is short and must free only memory that
// s.Counts: a cache evicts the entries whose kind or tag is the limited
// one, so a budget running out never flushes an unrelated cache; memory
// held by no one in particular (kept pages) helps only when
// the allocator itself is out of memory (s.Cause == ShortOfMemory), since
// freeing memory that does not count against a limit would not help. It is
// asked to free at least s.Bytes if it can (<= 0: as much as counts) and
// returns how many bytes that count it freed; it must not block for long
// and must not call Relieve. unregister removes fn; it is idempotent.
func RegisterRelief(name string, fn func(s Shortage) (freed int64)) (unregister func()) {
	r := &relief{name: name, fn: fn}
	reliefs.Lock()
	reliefs.list = append(reliefs.list, r)
	reliefs.Unlock()
	return func() {
		reliefs.Lock()
		defer reliefs.Unlock()
		for i, x := range reliefs.list {
			if x == r {
				reliefs.list = append(reliefs.list[:i:i], reliefs.list[i+1:]...)
				return
			}
		}
	}
}

// gcRelief coalesces the garbage collections of concurrent Relieve calls:
// a caller that finds one running waits for it instead of starting another.
// It also skips the collection when the last one gave nothing back and
// ended less than reliefGCQuiet ago: a service whose budget is full of
// memory in use would otherwise collect back to back on every refused
// request.
var gcRelief struct {
	sync.Mutex
	running   bool
	done      chan struct{}
	lastEnd   time.Time
	lastFreed int64
}

// Relieve tries to free s.Bytes bytes that count against what is short
// (s.Bytes <= 0: as much as it can) before an owner retries an allocation
// that failed with ErrLimit or ErrOutOfMemory (pass ShortageOf(err, n);
// Shortage{Bytes: n} is the allocator out of memory, which any freed memory
// helps). When the allocator ran out it first trims the allocator caches
// (RegisterAllocatorCache); then it runs the registered reliefs in order
// until they have freed enough; if they fall short it runs the garbage collector and waits
// briefly for the cleanups of dropped handles, which give their memory back
// through the safety net (garbage is freed whatever is short). Concurrent
// calls share one collection, and a collection is skipped (counted in
// GCSkips) when the previous one freed nothing less than 10 ms ago. It
// returns the bytes freed as far as it can tell (the reliefs' own count plus
// the drop in the short total's live bytes across the collection) and
// counts each step in Pressure. A request larger than the limit that
// refused it runs nothing and gets 0: no relief could make it fit.
func Relieve(s Shortage) (freed int64) {
	if s.hopeless() {
		return 0
	}
	need := max(s.Bytes, 0) // 0: as much as can be
	pressure.reliefs.Add(1)
	// The allocator caches first: what they hold is no one's, and
	// giving it back costs the program nothing but a later refill.
	if s.Cause == ShortOfMemory {
		if n := Trim(s); n > 0 {
			freed = n
			addClamped(&pressure.reliefBytes, n)
			if need > 0 && freed >= need {
				return freed
			}
		}
	}
	reliefs.Lock()
	list := append([]*relief(nil), reliefs.list...)
	reliefs.Unlock()
	for _, r := range list {
		rs := s
		rs.Bytes = 0
		if need > 0 {
			rs.Bytes = need - freed // freed < need here: no overflow
		}
		// A relief's count is its own word: sums saturate rather than
		// wrap, whatever it returns.
		if n := r.fn(rs); n > 0 {
			freed = addSat(freed, n)
			addClamped(&pressure.reliefBytes, n)
		}
		if need > 0 && freed >= need {
			return freed
		}
	}
	before := s.live()
	if collectForRelief(func() int64 { return before - s.live() }) {
		if after := s.live(); after < before {
			freed = addSat(freed, before-after)
		}
	}
	return freed
}

// reliefGCQuiet is how long after a collection that freed nothing Relieve
// skips the next one.
const reliefGCQuiet = 10 * time.Millisecond

// collectForRelief runs one garbage collection, or waits for the one another Relieve
// is running, then gives the cleanup goroutine a moment to free what the
// collection found.
// It returns false when it skipped the collection; freed measures what the
// collection gave back.
func collectForRelief(freed func() int64) bool {
	gcRelief.Lock()
	if gcRelief.running {
		done := gcRelief.done
		gcRelief.Unlock()
		<-done
		return true
	}
	if gcRelief.lastFreed <= 0 && !gcRelief.lastEnd.IsZero() && time.Since(gcRelief.lastEnd) < reliefGCQuiet {
		gcRelief.Unlock()
		pressure.gcSkips.Add(1)
		return false
	}
	gcRelief.running = true
	gcRelief.done = make(chan struct{})
	gcRelief.Unlock()

	pressure.gcRuns.Add(1)
	GC() // arms the nursery first: dropped handles are found by this collection
	waitCleanups()
	n := freed()

	gcRelief.Lock()
	gcRelief.running = false
	gcRelief.lastEnd, gcRelief.lastFreed = time.Now(), n
	close(gcRelief.done)
	gcRelief.Unlock()
	return true
}

// waitCleanups waits, for at most a few milliseconds, until a cleanup queued
// after the collection has run. Cleanups may run concurrently, so this is a
// good chance, not a guarantee, that the safety net has freed what the
// collection found.
func waitCleanups() {
	ran := make(chan struct{})
	marker := new([16]byte)
	runtime.AddCleanup(marker, func(ch chan struct{}) { close(ch) }, ran)
	marker = nil
	runtime.GC()
	select {
	case <-ran:
		runtime.Gosched()
	case <-time.After(5 * time.Millisecond):
	}
}

// limitWaiters is the number of goroutines waiting in waitForRoom; the
// release path reads it with one atomic load and wakes them only when it is
// not zero.
var limitWaiters atomic.Int32

// limitWake is closed, and replaced, each time bytes are released while
// someone waits.
var limitWake struct {
	sync.Mutex
	ch chan struct{}
}

// wakeLimitWaiters is called wherever live bytes go down.
func wakeLimitWaiters() {
	if limitWaiters.Load() != 0 {
		wakeLimitWaitersSlow()
	}
}

func wakeLimitWaitersSlow() {
	limitWake.Lock()
	if limitWake.ch != nil {
		close(limitWake.ch)
		limitWake.ch = nil
	}
	limitWake.Unlock()
}

func limitWakeChan() chan struct{} {
	limitWake.Lock()
	defer limitWake.Unlock()
	if limitWake.ch == nil {
		limitWake.ch = make(chan struct{})
	}
	return limitWake.ch
}

// waitForRoom is the back-pressure step of allocate for a request with a
// Context: a limit still refuses after the relief, so it waits until bytes
// are released in the ledger and tries again, until the context ends. It
// then returns an error wrapping both ErrLimit and the context's error, so
// a service can answer "over budget, retry later" (errors.Is(err,
// ErrLimit)) and tell it from running out of memory. Other errors return
// at once.
func waitForRoom(req *Request, obj unsafe.Pointer) (*Record, error) {
	pressure.limitWaits.Add(1)
	limitWaiters.Add(1)
	defer limitWaiters.Add(-1)
	for {
		// Take the channel before trying, so a release between the try
		// and the wait still wakes us.
		wake := limitWakeChan()
		r, err := reserve(req.Kind, req.Device, req.Tag, req.Bytes, obj)
		if err == nil || !errors.Is(err, ErrLimit) {
			return r, err
		}
		select {
		case <-wake:
		case <-req.Context.Done():
			pressure.limitWaitTimeouts.Add(1)
			return nil, &limitWaitError{limit: err, ctx: context.Cause(req.Context)}
		}
	}
}

// limitWaitError wraps the limit refusal and the reason the wait ended.
type limitWaitError struct{ limit, ctx error }

func (e *limitWaitError) Error() string {
	return e.limit.Error() + "; gave up waiting: " + e.ctx.Error()
}

func (e *limitWaitError) Unwrap() []error { return []error{e.limit, e.ctx} }
