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

// ErrTooLarge: a buffer larger than the cache's byte bound was offered.
var ErrTooLarge = errors.New("cache: buffer larger than the cache")

// ErrClosed: the cache was closed.
var ErrClosed = errors.New("cache: closed")

// Options configures a Cache.
type Options struct {
	// Name identifies the cache in tracker.Caches and in relief reports.
	Name string
	// MaxBytes bounds the bytes of the buffers held (> 0).
	MaxBytes int64
	// TTL is how long an entry stays after it was put; 0: no expiry.
	TTL time.Duration
	// Now is the clock, for tests; nil: time.Now.
	Now func() time.Time
}

// A Cache maps keys to native buffers it owns. Put hands a buffer over
// (the cache freezes it: cached bytes are shared and read-only); Get
// returns it with a reference the caller must Release. When an entry is
// evicted (to stay within MaxBytes, by tracker.Relieve under memory
// pressure, or by Remove) or expires, the cache releases its reference: the
// memory is freed then, or by the last reader's Release.
//
// All methods are safe for concurrent use.
type Cache[K comparable] struct {
	opts Options
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
	buf     *native.Buffer
	expires time.Time // zero: never
}

const (
	whyEvict = iota
	whyExpire
	whyReplace
)

// New returns an empty cache and registers it with the ledger: its
// counters appear in tracker.Caches, and tracker.Relieve evicts from it.
// Close unregisters it.
func New[K comparable](opts Options) (*Cache[K], error) {
	if opts.MaxBytes <= 0 {
		return nil, fmt.Errorf("cache %q: MaxBytes %d must be positive", opts.Name, opts.MaxBytes)
	}
	if opts.TTL < 0 {
		return nil, fmt.Errorf("cache %q: negative TTL %v", opts.Name, opts.TTL)
	}
	c := &Cache[K]{opts: opts, now: opts.Now}
	if c.now == nil {
		c.now = time.Now
	}
	lru, err := simplelru.NewLRU[K, *entry](math.MaxInt, c.onRemove)
	if err != nil {
		return nil, fmt.Errorf("cache %q: %w", opts.Name, err)
	}
	c.lru = lru
	c.unreg = []func(){
		tracker.RegisterRelief("cache/"+opts.Name, c.relieve),
		tracker.RegisterCache(opts.Name, c.Stats),
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

// Put hands b to the cache under key, replacing (and releasing) any entry
// there, and evicts least recently used entries until the cache is within
// MaxBytes. The cache freezes b. On error the caller still owns b:
// ErrTooLarge for a buffer over MaxBytes, ErrClosed after Close, or the
// buffer's own error (freed, borrowed exclusively).
func (c *Cache[K]) Put(key K, b *native.Buffer) error {
	n := int64(b.Len())
	if n > c.opts.MaxBytes {
		return fmt.Errorf("cache %q: put %d bytes into %d: %w", c.opts.Name, n, c.opts.MaxBytes, ErrTooLarge)
	}
	if err := b.Freeze(); err != nil {
		return fmt.Errorf("cache %q: put: %w", c.opts.Name, err)
	}
	e := &entry{buf: b}
	if c.opts.TTL > 0 {
		e.expires = c.now().Add(c.opts.TTL)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return fmt.Errorf("cache %q: put: %w", c.opts.Name, ErrClosed)
	}
	if c.lru.Contains(key) {
		c.why = whyReplace
		c.lru.Remove(key)
	}
	c.bytes += n
	c.lru.Add(key, e)
	c.expireLocked()
	c.why = whyEvict
	for c.bytes > c.opts.MaxBytes {
		c.lru.RemoveOldest()
	}
	c.size.Store(c.bytes)
	c.entries.Store(int64(c.lru.Len()))
	return nil
}

// Get returns the buffer under key with a new reference: read it (View,
// ReadAt, Ptr), then Release it. An expired entry is removed and missed.
func (c *Cache[K]) Get(key K) (*native.Buffer, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.lru.Get(key)
	if ok && !e.expires.IsZero() && !c.now().Before(e.expires) {
		c.why = whyExpire
		c.lru.Remove(key)
		ok = false
	}
	if !ok || e.buf.Retain() != nil {
		c.misses.Add(1)
		return nil, false
	}
	c.hits.Add(1)
	return e.buf, true
}

// Remove drops key's entry, if any, and releases its buffer.
func (c *Cache[K]) Remove(key K) bool {
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
	if c.opts.TTL == 0 {
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
	if c.opts.TTL == 0 {
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

// relieve is the cache's step in tracker.Relieve: evict least recently
// used entries until need bytes are released (need <= 0: all of them).
func (c *Cache[K]) relieve(need int64) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	before := c.bytes
	c.expireLocked()
	c.why = whyEvict
	for c.lru.Len() > 0 && (need <= 0 || before-c.bytes < need) {
		c.lru.RemoveOldest()
	}
	return before - c.bytes
}

// Stats returns the cache's counters.
func (c *Cache[K]) Stats() tracker.CacheStats {
	return tracker.CacheStats{
		Name:        c.opts.Name,
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
