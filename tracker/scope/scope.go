// Package scope measures the native and device memory of a region of code:
// the peak and the net change of the bytes live in the ledger while the
// scope is open. It is an observer of the ledger (tracker.AddObserver),
// added while any scope is open.
package scope

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/membridge/membridge/tracker"
)

// A Scope measures the native and device memory of a region of code: the
// peak and the net change of the bytes live in the ledger while the scope
// is open. Scopes nest: an inner scope's allocations count in every scope
// open around it.
//
// A scope sees the whole process, like RMM's statistics scopes: what other
// goroutines allocate while it is open counts too. Tests and benchmarks
// that run one thing at a time get exact figures.
type Scope struct {
	name  string
	begun time.Time

	net, peak              atomic.Int64
	allocCount, allocBytes atomic.Int64
	freeCount, freeBytes   atomic.Int64
	ended                  atomic.Bool
	final                  Stats
}

// Stats is what a Scope measured.
type Stats struct {
	Name string
	// PeakBytes is the highest NetBytes reached while the scope was open
	// (never below 0).
	PeakBytes int64
	// NetBytes is the bytes that became live less the bytes that ended while
	// the scope was open; positive means the region left memory behind.
	NetBytes                       int64
	AllocatedBytes, AllocatedCount int64
	FreedBytes, FreedCount         int64 // freed, handed to C or reclaimed
	Duration                       time.Duration
}

// openScopes is copied on write; the observer reads it without a lock.
var (
	openScopes  atomic.Pointer[[]*Scope]
	openScopeMu sync.Mutex
	remove      func() // takes the observer away; nil while no scope is open
)

// Begin opens a scope. End it with End, usually deferred.
func Begin(name string) *Scope {
	s := &Scope{name: name, begun: time.Now()}
	openScopeMu.Lock()
	defer openScopeMu.Unlock()
	var list []*Scope
	if p := openScopes.Load(); p != nil {
		list = append(list, *p...)
	}
	list = append(list, s)
	openScopes.Store(&list)
	if remove == nil {
		remove = tracker.AddObserver(observer{})
	}
	return s
}

// End closes the scope and returns what it measured. Calling End again
// returns the same figures.
func (s *Scope) End() Stats {
	openScopeMu.Lock()
	defer openScopeMu.Unlock()
	if s.ended.Load() {
		return s.final
	}
	var list []*Scope
	if p := openScopes.Load(); p != nil {
		for _, o := range *p {
			if o != s {
				list = append(list, o)
			}
		}
	}
	openScopes.Store(&list)
	if len(list) == 0 && remove != nil {
		remove()
		remove = nil
	}
	s.final = s.Stats()
	s.ended.Store(true)
	return s.final
}

// Stats returns what the scope has measured so far (after End, the final
// figures).
func (s *Scope) Stats() Stats {
	if s.ended.Load() {
		return s.final
	}
	return Stats{
		Name:           s.name,
		PeakBytes:      s.peak.Load(),
		NetBytes:       s.net.Load(),
		AllocatedBytes: s.allocBytes.Load(),
		AllocatedCount: s.allocCount.Load(),
		FreedBytes:     s.freeBytes.Load(),
		FreedCount:     s.freeCount.Load(),
		Duration:       time.Since(s.begun),
	}
}

// Measure runs fn inside a scope named name and returns what it measured.
func Measure(name string, fn func()) Stats {
	s := Begin(name)
	defer s.End()
	fn()
	return s.End()
}

// countInScopes adds a change of live bytes to every open scope.
func countInScopes(delta int64) {
	p := openScopes.Load()
	if p == nil {
		return
	}
	for _, s := range *p {
		if delta > 0 {
			s.allocCount.Add(1)
			s.allocBytes.Add(delta)
		} else {
			s.freeCount.Add(1)
			s.freeBytes.Add(-delta)
		}
		net := s.net.Add(delta)
		for {
			peak := s.peak.Load()
			if net <= peak || s.peak.CompareAndSwap(peak, net) {
				break
			}
		}
	}
}

// observer counts the ledger's changes of live bytes in the open scopes.
type observer struct{}

func (observer) Allocated(r *tracker.Record)   { countInScopes(r.Bytes()) }
func (observer) Freed(r *tracker.Record)       { countInScopes(-r.Bytes()) }
func (observer) HandedOff(r *tracker.Record)   { countInScopes(-r.Bytes()) }
func (observer) Failed(*tracker.Record)        {}
func (observer) Retried(*tracker.Record, bool) {}
func (observer) Refused(*tracker.LimitError)   {}
func (observer) Dropped(r *tracker.Record, reclaimed bool) {
	if reclaimed { // LeakReport keeps dropped memory live
		countInScopes(-r.Bytes())
	}
}
