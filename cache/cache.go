// Package cache keeps recently used native buffers, bounded by bytes, with
// least-recently-used eviction and a time to live. An evicted or expired
// buffer is released at once: its memory goes back as soon as no reader
// holds it, never at the garbage collector's leisure.
//
// The recency bookkeeping is hashicorp/golang-lru/v2's simplelru: a
// well-tested list-plus-map LRU with no locking and no goroutines of its
// own, so this package adds the one mutex, the byte bound, lazy expiry and
// the release of evicted buffers around it. golang-lru's thread-safe and
// expirable variants bound entries by count, and the expirable one expires
// entries from its own goroutine under its own lock, which would call back
// into this cache's lock in the opposite order.
package cache

import (
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"
	"github.com/membridge/membridge/native"
	"github.com/membridge/membridge/tracker"
)

// ErrTooLarge is returned when a buffer larger than the cache's byte bound is offered.
var ErrTooLarge = errors.New("membridge: buffer larger than the cache")

// ErrClosed is returned once the cache is closed.
var ErrClosed = errors.New("membridge: cache closed")

// An Option changes how New sets up a Cache: TTL and Clock. Options are
// functional, in the manner of goleak's (and of native.AllocOption): pass
// any number, a later one overrides an earlier one.
type Option interface {
	// apply returns o changed by the option (a value, as native's options).
	apply(o options) options
}

// options is a Cache's configuration: New's arguments and its Options.
type options struct {
	name     string           // identifies the cache in All and relief reports
	maxBytes int64            // bounds the bytes of the buffers held (> 0)
	ttl      time.Duration    // how long an entry stays after it was put; 0: no expiry
	now      func() time.Time // the clock; nil: time.Now
}

type ttlOption time.Duration

func (d ttlOption) apply(o options) options {
	o.ttl = time.Duration(d)
	return o
}

// TTL makes entries expire d after they were put (0, the default: never).
// A negative d makes New fail.
func TTL(d time.Duration) Option { return ttlOption(d) }

type clockOption func() time.Time

func (f clockOption) apply(o options) options {
	o.now = f
	return o
}

// Clock makes the cache read the time from now instead of time.Now, for
// tests of expiry. nil means time.Now.
func Clock(now func() time.Time) Option { return clockOption(now) }

// A Cache maps keys to native buffers it owns. Put takes ownership of a
// buffer, as native's Move does: the caller's handle is moved (its Free
// then returns an error wrapping native.ErrMoved) and the cache holds a
// new one, frozen (cached bytes are shared and read-only). Get returns the
// cached buffer with a reference the caller must Release. When an entry is
// replaced, evicted (to stay within maxBytes, under memory pressure, or by
// Remove) or expires, the cache releases its reference: the memory is
// freed then, or by the last reader's Release.
//
// Under memory pressure the ledger asks the cache for room: when a limit
// refuses an allocation, the cache evicts only entries whose memory counts
// against that limit (the same tag for a tag limit or budget, the same
// kind for a kind limit), least recently used first; when the allocator
// itself is out of memory, any entry.
//
// All methods are safe for concurrent use. A nil or zero Cache (not made
// by New) behaves as a closed one.
type Cache[K comparable] struct {
	opts options
	now  func() time.Time

	mu     sync.Mutex
	lru    *simplelru.LRU[K, *entry]
	bytes  int64
	closed bool
	why    int // what removal the eviction callback is counting
	unreg  []func()

	hits, misses, evictions, expirations atomic.Int64
	size, entries                        atomic.Int64
}

type entry struct {
	buf     *native.Buffer // the cache's handle
	from    *native.Buffer // the handle Put was given, moved into buf
	kind    tracker.Kind   // what buf's memory counts against
	tag     string
	expires time.Time // zero: never
}

const (
	whyEvict = iota
	whyExpire
	whyReplace
)

// New returns an empty cache named name (it identifies the cache in
// All and in relief reports) that holds at most maxBytes bytes
// of buffers (> 0), and registers it with the ledger: its
// counters appear in All, and tracker.Relieve evicts from it.
// Close unregisters it.
func New[K comparable](name string, maxBytes int64, opt ...Option) (*Cache[K], error) {
	opts := options{name: name, maxBytes: maxBytes}
	for _, o := range opt {
		if o != nil {
			opts = o.apply(opts)
		}
	}
	if opts.maxBytes <= 0 {
		return nil, fmt.Errorf("cache: new cache %q: maxBytes %d must be positive", opts.name, opts.maxBytes)
	}
	if opts.ttl < 0 {
		return nil, fmt.Errorf("cache: new cache %q: negative TTL %v", opts.name, opts.ttl)
	}
	c := &Cache[K]{opts: opts, now: opts.now}
	if c.now == nil {
		c.now = time.Now
	}
	lru, err := simplelru.NewLRU[K, *entry](math.MaxInt, c.onRemove)
	if err != nil {
		return nil, fmt.Errorf("cache: new cache %q: %w", opts.name, err)
	}
	c.lru = lru
	c.unreg = []func(){
		tracker.RegisterRelief("cache/"+opts.name, c.relieve),
		Register(opts.name, c.Stats),
	}
	return c, nil
}

// onRemove runs, under c.mu, for every entry simplelru drops.
func (c *Cache[K]) onRemove(_ K, e *entry) {
	c.bytes -= int64(e.buf.Len())
	switch c.why {
	case whyEvict:
		c.evictions.Add(1)
	case whyExpire:
		c.expirations.Add(1)
	}
	c.size.Store(c.bytes)
	c.entries.Store(int64(c.lru.Len()))
	_ = e.buf.Release() // the cache's reference; frees unless a reader holds one
}

// Put gives b to the cache under key, replacing (and releasing) any entry
// there, and evicts least recently used entries until the cache is within
// its maxBytes. The cache takes ownership: it freezes b and moves it to a
// handle of its own, so that b then reports native.ErrMoved (Free, Bytes,
// Move...) and the caller can no longer free what the cache holds. Putting
// the buffer that key already holds (the handle given to Put, or the one
// Get returned) again is a no-op.
//
// On error the caller still owns b, which may have been frozen:
// ErrTooLarge for a buffer over maxBytes, ErrClosed after Close (or on a
// cache not made by New), native.ErrInvalidArgument for a nil b, or the
// buffer's own error (freed or moved, for example by an earlier Put under
// another key; native.ErrBorrowed while views or references are out).
func (c *Cache[K]) Put(key K, b *native.Buffer) error {
	if !c.made() {
		return fmt.Errorf("cache: put into a cache not made by New: %w", ErrClosed)
	}
	if b == nil {
		return fmt.Errorf("cache: put nil buffer into cache %q: %w", c.opts.name, native.ErrInvalidArgument)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return fmt.Errorf("cache: put into cache %q: %w", c.opts.name, ErrClosed)
	}
	if old, ok := c.lru.Peek(key); ok && (old.from == b || old.buf == b) {
		return nil // already ours
	}
	n := int64(b.Len())
	if n > c.opts.maxBytes {
		return fmt.Errorf("cache: put %d bytes into cache %q of %d: %w", n, c.opts.name, c.opts.maxBytes, ErrTooLarge)
	}
	if err := b.Freeze(); err != nil {
		return fmt.Errorf("cache: put %d bytes into cache %q: %w", n, c.opts.name, err)
	}
	own, err := b.Move()
	if err != nil {
		return fmt.Errorf("cache: put %d bytes into cache %q: %w", n, c.opts.name, err)
	}
	e := &entry{buf: own, from: b, kind: own.Snapshot().Kind, tag: own.Tag()}
	if c.opts.ttl > 0 {
		e.expires = c.now().Add(c.opts.ttl)
	}
	if c.lru.Contains(key) {
		c.why = whyReplace
		c.lru.Remove(key)
	}
	c.expireLocked()
	c.why = whyEvict
	for c.bytes > c.opts.maxBytes-n { // n <= maxBytes: neither side overflows
		c.lru.RemoveOldest()
	}
	c.bytes += n
	c.lru.Add(key, e)
	c.size.Store(c.bytes)
	c.entries.Store(int64(c.lru.Len()))
	return nil
}

// made reports whether c was made by New (a nil or zero Cache was not).
func (c *Cache[K]) made() bool { return c != nil && c.lru != nil }

// Get returns the buffer under key with a new reference: read it (View,
// ReadAt, Ptr), then Release it, once. An expired entry is removed and
// missed. A reader that releases more than once ends the cache's own
// reference and frees the entry's memory: the next Get misses.
func (c *Cache[K]) Get(key K) (*native.Buffer, bool) {
	if !c.made() {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.lru.Get(key)
	if ok && !e.expires.IsZero() && !c.now().Before(e.expires) {
		c.why = whyExpire
		c.lru.Remove(key)
		ok = false
	}
	if ok && e.buf.Retain() != nil {
		// A reader released the cache's own reference (one Release too
		// many): the buffer is gone, so is the entry.
		c.why = whyReplace
		c.lru.Remove(key)
		ok = false
	}
	if !ok {
		c.misses.Add(1)
		return nil, false
	}
	c.hits.Add(1)
	return e.buf, true
}

// Remove drops key's entry, if any, and releases its buffer.
func (c *Cache[K]) Remove(key K) bool {
	if !c.made() {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.why = whyReplace
	return c.lru.Remove(key)
}

// Expire removes every expired entry and returns how many. Entries also
// expire when Get finds them, and Put sweeps expired entries from the
// least recently used end; call Expire periodically to bound how long
// expired, unread entries hold memory.
func (c *Cache[K]) Expire() int {
	if !c.made() || c.opts.ttl == 0 {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	n := 0
	c.why = whyExpire
	for _, k := range c.lru.Keys() {
		if e, ok := c.lru.Peek(k); ok && !now.Before(e.expires) {
			c.lru.Remove(k)
			n++
		}
	}
	return n
}

// expireLocked drops expired entries from the least recently used end.
func (c *Cache[K]) expireLocked() {
	if c.opts.ttl == 0 {
		return
	}
	now := c.now()
	c.why = whyExpire
	for {
		_, e, ok := c.lru.GetOldest()
		if !ok || now.Before(e.expires) {
			return
		}
		c.lru.RemoveOldest()
	}
}

// relieve is the cache's step in tracker.Relieve: evict least
// recently used entries whose memory counts against what is short until
// s.Bytes of them are released (s.Bytes <= 0: all of them). Entries of
// other tags or kinds stay: evicting them would not help the allocation
// that was refused. Expired entries go whatever is short.
func (c *Cache[K]) relieve(s tracker.Shortage) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.expireLocked()
	var freed int64
	c.why = whyEvict
	for _, k := range c.lru.Keys() { // least recently used first
		if s.Bytes > 0 && freed >= s.Bytes {
			break
		}
		if e, ok := c.lru.Peek(k); ok && s.Counts(e.kind, e.tag) {
			freed += int64(e.buf.Len())
			c.lru.Remove(k)
		}
	}
	return freed
}

// Stats returns the cache's counters.
func (c *Cache[K]) Stats() Stats {
	if !c.made() {
		return Stats{}
	}
	return Stats{
		Name:        c.opts.name,
		Hits:        c.hits.Load(),
		Misses:      c.misses.Load(),
		Evictions:   c.evictions.Load(),
		Expirations: c.expirations.Load(),
		Bytes:       c.size.Load(),
		Entries:     c.entries.Load(),
	}
}

// Close releases every entry and unregisters the cache from the ledger.
// Later Puts fail with ErrClosed; Gets miss. Close is idempotent.
func (c *Cache[K]) Close() error {
	if !c.made() {
		return nil
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	c.why = whyReplace
	c.lru.Purge()
	c.size.Store(0)
	c.entries.Store(0)
	c.mu.Unlock()
	for _, u := range c.unreg {
		u()
	}
	return nil
}
