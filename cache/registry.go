package cache

import (
	"sort"
	"sync"
)

// Stats is one cache's counters, as it reports them to the registry of
// caches (Register, All).
type Stats struct {
	Name        string
	Hits        int64
	Misses      int64
	Evictions   int64 // entries removed to stay within the byte bound or by tracker.Relieve
	Expirations int64 // entries removed because their time to live ran out
	Bytes       int64 // bytes held now
	Entries     int64 // entries held now
}

var caches struct {
	sync.Mutex
	m map[*cacheEntry]struct{}
}

type cacheEntry struct {
	name  string
	stats func() Stats
}

// Register makes a cache's counters visible through All (reports,
// metrics): every Cache registers itself, and a cache of another kind may
// too. stats must be safe to call from any goroutine. unregister removes
// it; it is idempotent.
func Register(name string, stats func() Stats) (unregister func()) {
	e := &cacheEntry{name: name, stats: stats}
	caches.Lock()
	if caches.m == nil {
		caches.m = make(map[*cacheEntry]struct{})
	}
	caches.m[e] = struct{}{}
	caches.Unlock()
	return func() {
		caches.Lock()
		delete(caches.m, e)
		caches.Unlock()
	}
}

// All returns the counters of every registered cache, sorted by name.
func All() []Stats {
	caches.Lock()
	list := make([]*cacheEntry, 0, len(caches.m))
	for e := range caches.m {
		list = append(list, e)
	}
	caches.Unlock()
	out := make([]Stats, 0, len(list))
	for _, e := range list {
		s := e.stats()
		if s.Name == "" {
			s.Name = e.name
		}
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
