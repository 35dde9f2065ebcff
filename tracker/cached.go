package tracker

import (
	"cmp"
	"slices"
	"strconv"
	"sync"
)

// This file holds the allocator caches' place in the ledger. An owner's
// allocator may keep memory its program freed, to hand it out again
// without calling the allocator beneath (package native's per-P magazines
// of C blocks, package cuda's stream-aware device cache). That memory is
// neither live (no handle owns it, no limit counts it, no leak report
// names it) nor given back: the ledger shows it as its own state, cached
// bytes per kind and device, read from the caches when asked, and trims
// the caches before anything else when an allocator runs out of memory.

// An AllocatorCache is memory an owner keeps for reuse. Register it with
// RegisterAllocatorCache.
type AllocatorCache interface {
	// Cached appends to dst what the cache holds now, one entry per kind
	// and device it holds memory of, and returns the extended slice. It is
	// called by readers (CachedStats, metrics, profiles), never on an
	// allocation's path; it must not allocate or free through the ledger.
	Cached(dst []Cached) []Cached
	// Trim gives memory the cache holds back to the allocator beneath and
	// returns how many bytes it gave back. It is told what is short:
	// s.Cause == ShortOfMemory (the allocator beneath ran out) asks for
	// everything that s.Counts, s.Bytes <= 0 for everything. A limit's
	// shortage counts only live bytes, which cached bytes are not: a cache
	// may give nothing back for one. Trim must not block for long and must
	// not call Relieve.
	Trim(s Shortage) (freed int64)
}

// Cached is what an allocator cache holds of one kind of memory on one
// device.
type Cached struct {
	Kind   Kind
	Device int   // the device ordinal, or -1 for host memory
	Bytes  int64 // held for reuse: freed by the program, not given back
	Blocks int64 // how many blocks those bytes are in
}

var allocatorCaches struct {
	sync.Mutex
	list []*namedCache
}

type namedCache struct {
	name string
	c    AllocatorCache
	// calls counts the calls of c's methods in flight; unregister waits
	// for them, so an owner may free what its cache is made of once
	// unregister returns.
	calls sync.WaitGroup
}

// RegisterAllocatorCache makes c's memory visible in the ledger
// (CachedStats, and through it metrics, profiles and the debug summary)
// and puts c first in line under memory pressure: Relieve trims every
// allocator cache before it runs the reliefs of RegisterRelief (user
// caches, kept pages), and Trim trims them on request. name says whose
// cache it is, for a reader of the code; two caches may share one.
//
// unregister removes c and returns once no call of c's methods is in
// flight, so that c is never called again after it; it is idempotent. It
// must not be called from an allocator cache's methods: it would wait for
// the pass that called it.
// A nil c is a programming error: RegisterAllocatorCache panics at once
// rather than when the ledger is next read.
func RegisterAllocatorCache(name string, c AllocatorCache) (unregister func()) {
	if c == nil {
		panic("membridge: tracker.RegisterAllocatorCache(" + strconv.Quote(name) + ", nil): no cache to register")
	}
	nc := &namedCache{name: name, c: c}
	allocatorCaches.Lock()
	allocatorCaches.list = append(allocatorCaches.list, nc)
	allocatorCaches.Unlock()
	return func() {
		allocatorCaches.Lock()
		allocatorCaches.list = slices.DeleteFunc(allocatorCaches.list, func(x *namedCache) bool { return x == nc })
		allocatorCaches.Unlock()
		// No call starts once nc is out of the list: calls are counted
		// under the lock that took it out.
		nc.calls.Wait()
	}
}

// eachCache calls fn with every registered cache, outside the registry's
// lock (a cache may take locks of its own, or read the ledger). The caches
// count as in flight until the whole pass ends, panics included, so
// unregister waits for it.
func eachCache(fn func(AllocatorCache)) {
	allocatorCaches.Lock()
	list := slices.Clone(allocatorCaches.list)
	for _, nc := range list {
		nc.calls.Add(1)
	}
	allocatorCaches.Unlock()
	defer func() {
		for _, nc := range list {
			nc.calls.Done()
		}
	}()
	for _, nc := range list {
		fn(nc.c)
	}
}

// CachedStats returns what the allocator caches hold, summed per kind and
// device, sorted by kind and then device. Kinds and devices with nothing
// cached are left out. A cache's word is taken within reason: negative
// counts are read as 0, sums saturate at MaxInt64 instead of wrapping, and
// every negative device is host memory (-1), so one kind has one host row.
func CachedStats() []Cached {
	var all, part []Cached
	eachCache(func(c AllocatorCache) {
		// Each cache appends to a slice of its own: one that returned a
		// fresh slice instead of extending dst would lose the others'.
		part = c.Cached(part[:0])
		all = append(all, part...)
	})
	for i := range all {
		all[i].Bytes = max(all[i].Bytes, 0)
		all[i].Blocks = max(all[i].Blocks, 0)
		all[i].Device = max(all[i].Device, -1)
	}
	slices.SortFunc(all, func(a, b Cached) int {
		return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Device, b.Device))
	})
	out := all[:0]
	for _, c := range all {
		if n := len(out); n > 0 && out[n-1].Kind == c.Kind && out[n-1].Device == c.Device {
			out[n-1].Bytes = addSat(out[n-1].Bytes, c.Bytes)
			out[n-1].Blocks = addSat(out[n-1].Blocks, c.Blocks)
			continue
		}
		out = append(out, c)
	}
	return slices.DeleteFunc(out, func(c Cached) bool { return c.Bytes == 0 && c.Blocks == 0 })
}

// CachedBytes returns the bytes the allocator caches hold of kind k on
// device (-1: host), or of every device when device is AllDevices.
func CachedBytes(k Kind, device int) int64 {
	var n int64
	for _, c := range CachedStats() {
		if c.Kind == k && (device == AllDevices || c.Device == device) {
			n = addSat(n, c.Bytes)
		}
	}
	return n
}

// AllDevices is the device that makes CachedBytes sum every device.
const AllDevices = -2

// Trim asks every allocator cache to give back what s says is short (see
// AllocatorCache.Trim) and returns the bytes they gave back, summed with
// saturation; a negative count is read as 0. Trim(Shortage{}) empties them
// all: Shortage{} is the allocator out of memory, asking for everything.
// The caches refill as the program allocates again.
func Trim(s Shortage) (freed int64) {
	eachCache(func(c AllocatorCache) {
		if n := c.Trim(s); n > 0 {
			freed = addSat(freed, n)
		}
	})
	return freed
}
