package tracker

import (
	"sync"
	"sync/atomic"
	"time"
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
	final                  ScopeStats
}

// ScopeStats is what a Scope measured.
type ScopeStats struct {
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

// openScopes is copied on write; the hot path reads it without a lock.
var (
	openScopes  atomic.Pointer[[]*Scope]
	openScopeMu sync.Mutex
)

// BeginScope opens a scope. End it with End, usually deferred.
func BeginScope(name string) *Scope {
	s := &Scope{name: name, begun: time.Now()}
	openScopeMu.Lock()
	defer openScopeMu.Unlock()
	var list []*Scope
	if p := openScopes.Load(); p != nil {
		list = append(list, *p...)
	}
	list = append(list, s)
	openScopes.Store(&list)
	setObserving(observeScopes, true)
	return s
}

// End closes the scope and returns what it measured. Calling End again
// returns the same figures.
func (s *Scope) End() ScopeStats {
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
	if len(list) == 0 {
		setObserving(observeScopes, false)
	}
	s.final = s.Stats()
	s.ended.Store(true)
	return s.final
}

// Stats returns what the scope has measured so far (after End, the final
// figures).
func (s *Scope) Stats() ScopeStats {
	if s.ended.Load() {
		return s.final
	}
	return ScopeStats{
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

// MeasureScope runs fn inside a scope named name and returns what it measured.
func MeasureScope(name string, fn func()) ScopeStats {
	s := BeginScope(name)
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
