package tracker

import (
	"math"
	"sort"
	"sync"
	"sync/atomic"
	"unsafe"
)

// counters is one set of atomic counters. It fills whole cache lines so
// that two sets updated from different cores never share a line.
type counters struct {
	liveBytes  atomic.Int64 // reserved or committed and not yet released
	liveCount  atomic.Int64
	peakBytes  atomic.Int64
	allocBytes atomic.Int64 // committed allocations since start
	allocCount atomic.Int64
	freedBytes atomic.Int64 // released allocations since start (freed, reclaimed or handed to C)
	freedCount atomic.Int64
	dropBytes  atomic.Int64 // handles dropped without a free (found by the safety net)
	dropCount  atomic.Int64
	handBytes  atomic.Int64 // ownership handed to C: released from the ledger, not freed by us
	handCount  atomic.Int64
	limitHits  atomic.Int64 // reservations refused with ErrLimit
	_          [128 - 12*8%128]byte
}

// raisePeak makes peak at least v. It costs one load unless v is a new peak.
func raisePeak(peak *atomic.Int64, v int64) {
	for {
		p := peak.Load()
		if v <= p || peak.CompareAndSwap(p, v) {
			return
		}
	}
}

// add adds c's values to s (peaks and limit hits excepted: they do not add
// up). The sums saturate: many sets, each within range, never read back as
// a negative total.
func (c *counters) add(s *Stats) {
	s.LiveBytes = addSat(s.LiveBytes, c.liveBytes.Load())
	s.LiveCount = addSat(s.LiveCount, c.liveCount.Load())
	s.AllocatedBytes = addSat(s.AllocatedBytes, c.allocBytes.Load())
	s.AllocatedCount = addSat(s.AllocatedCount, c.allocCount.Load())
	s.FreedBytes = addSat(s.FreedBytes, c.freedBytes.Load())
	s.FreedCount = addSat(s.FreedCount, c.freedCount.Load())
	s.DroppedBytes = addSat(s.DroppedBytes, c.dropBytes.Load())
	s.DroppedCount = addSat(s.DroppedCount, c.dropCount.Load())
	s.HandedOffBytes = addSat(s.HandedOffBytes, c.handBytes.Load())
	s.HandedOffCount = addSat(s.HandedOffCount, c.handCount.Load())
}

// addSat is a+b, saturated at the int64 range instead of wrapping.
func addSat(a, b int64) int64 {
	s := a + b
	switch {
	case a > 0 && b > 0 && s < 0:
		return math.MaxInt64
	case a < 0 && b < 0 && s >= 0:
		return math.MinInt64
	}
	return s
}

// totals are what the hot path keeps for a whole kind or a whole tag: live
// bytes, which limits are checked against, and their peak, which no sum
// can give. Everything else a kind or a tag shows is the sum of its
// (kind, device, tag) entries, added up when read: an allocation and its
// free then pay for two atomic additions per total, not twelve.
type totals struct {
	liveBytes atomic.Int64
	peakBytes atomic.Int64
	limitHits atomic.Int64 // reservations refused with ErrLimit by this total's limit
	// drained has bit i set once slot i counts this total in liveBytes:
	// set for every slot, for good, before a limit is first set on it
	// (drainSlots). Until then a slot counts its records' bytes in its
	// share of their entries only, and liveBytes holds what outside
	// counters brought in and the huge reservations.
	drained atomic.Uint64
	_       [128 - 4*8]byte
}

// slotLive returns the live bytes slot i counts of the entries match
// says are a total's. The caller holds the slot's lock.
func slotLive(i int, match func(*keyEntry) bool) int64 {
	var n int64
	keyCounters.Range(func(_, v any) bool {
		if e := v.(*keyEntry); match(e) {
			n = addSat(n, e.slots[i].inBytes-e.slots[i].outBytes)
		}
		return true
	})
	return n
}

// hugeBytes is the size from which a reservation is counted in its kind's
// and tag's shared totals whatever the slots do, and in its entry's own
// counters instead of a slot's share: against a total that might pass
// MaxInt64, the check must see every slot (reserveHuge). No allocator
// hands out a terabyte, so only ledger entries of memory that exists
// already, or hostile sizes, take the path.
const hugeBytes = 1 << 40

// shared reports whether a record of n bytes entered on slot i counts in
// t's shared live total.
func (t *totals) shared(i uint8, n int64) bool {
	return n >= hugeBytes || t.drained.Load()&(1<<i) != 0
}

// drainSlots makes every slot count t in its shared live total: for each
// slot, under its lock, it moves the bytes the slot's records of t hold
// (those match says are t's) into liveBytes and sets the slot's bit. A
// limit set after it returns sees every byte of t.
func (t *totals) drainSlots(match func(*keyEntry) bool) {
	if t.drained.Load() == ^uint64(0) {
		return
	}
	for i := range live.shards {
		sl := &live.shards[i]
		sl.Lock()
		if t.drained.Load()&(1<<i) == 0 {
			t.liveBytes.Add(slotLive(i, match))
			t.drained.Or(1 << i)
		}
		sl.Unlock()
	}
}

// reserveWithin counts n more bytes (n >= 0) unless the total would then
// pass limit (0: none) or the largest int64; it returns whether it counted
// them, and the live bytes it saw. A refused request never touches the
// total, so no other reservation can see it, however large it was: there is
// no window in which the total is wrapped or holds bytes about to be taken
// back. Uncontended, a compare-and-swap costs what the atomic add it
// replaces does.
func (t *totals) reserveWithin(n, limit int64) (ok bool, live int64) {
	room := int64(math.MaxInt64)
	if limit > 0 {
		room = limit
	}
	for {
		live = t.liveBytes.Load()
		// live is never negative, but a total synced from outside counters
		// (External) is only as good as they are: take negative as 0.
		if n > room-max(live, 0) {
			return false, live
		}
		if t.liveBytes.CompareAndSwap(live, live+n) {
			return true, live + n
		}
	}
}

func (t *totals) unreserve(n int64) { t.liveBytes.Add(-n) }

// commit raises the peak, once the shared total holds every byte.
func (t *totals) commit() {
	if t.drained.Load() == ^uint64(0) {
		raisePeak(&t.peakBytes, t.liveBytes.Load())
	}
}

// addLive moves the live bytes by d within [0, MaxInt64] (addClamped): what
// External brings in from counters the ledger does not control.
func (t *totals) addLive(d int64) { addClamped(&t.liveBytes, d) }

// snapshot fills s with the sum of the entries that match (the live bytes
// among them: every slot's share, the huge reservations and what outside
// counters brought in), then t's peak and limit hits. The peak is exact
// once a limit was set on t (its shared total then holds every byte);
// before, it is the highest live total seen at a read.
func (t *totals) snapshot(s *Stats, match func(*keyEntry) bool) {
	keyCounters.Range(func(_, v any) bool {
		if e := v.(*keyEntry); match(e) {
			e.add(s)
		}
		return true
	})
	raisePeak(&t.peakBytes, s.LiveBytes)
	s.PeakBytes = t.peakBytes.Load()
	s.LimitHits = t.limitHits.Load()
}

// live returns t's live bytes: the shared total once every slot counts in
// it, the sum of the entries that match before.
func (t *totals) live(match func(*keyEntry) bool) int64 {
	if t.drained.Load() == ^uint64(0) {
		return t.liveBytes.Load()
	}
	var s Stats
	keyCounters.Range(func(_, v any) bool {
		if e := v.(*keyEntry); match(e) {
			e.add(&s)
		}
		return true
	})
	return s.LiveBytes
}

// add adds the entry's counters, its slots' shares among them, to s.
func (e *keyEntry) add(s *Stats) {
	e.counters.add(s)
	e.addSlots(s)
}

// snapshot fills s with the entry's counters. Its peak is the highest live
// total seen when the counters were read or outside counters synced: the
// hot path counts per slot, where no total exists to compare.
func (e *keyEntry) snapshot(s *Stats) {
	e.counters.snapshot(s)
	e.addSlots(s)
	raisePeak(&e.peakBytes, s.LiveBytes)
	s.PeakBytes = e.peakBytes.Load()
}

func (c *counters) snapshot(s *Stats) {
	s.LiveBytes = c.liveBytes.Load()
	s.LiveCount = c.liveCount.Load()
	s.PeakBytes = c.peakBytes.Load()
	s.AllocatedBytes = c.allocBytes.Load()
	s.AllocatedCount = c.allocCount.Load()
	s.FreedBytes = c.freedBytes.Load()
	s.FreedCount = c.freedCount.Load()
	s.DroppedBytes = c.dropBytes.Load()
	s.DroppedCount = c.dropCount.Load()
	s.HandedOffBytes = c.handBytes.Load()
	s.HandedOffCount = c.handCount.Load()
	s.LimitHits = c.limitHits.Load()
}

// Stats is a snapshot of one set of counters. Live values include
// reservations still being allocated. Freed values include memory the
// safety net reclaimed and memory handed to C.
type Stats struct {
	Kind   Kind
	Device int    // -1 for host memory
	Tag    string // empty in per-kind totals

	LiveBytes, LiveCount int64
	// PeakBytes is the highest LiveBytes seen at a read of the counters (a
	// Stats call, a scrape): allocations count per P, where no total
	// exists to compare. A kind or a tag under a limit (SetLimit,
	// SetTagLimit) keeps a shared total, and its peak (KindStats,
	// TagStats) is then also raised at every allocation.
	PeakBytes                      int64
	AllocatedBytes, AllocatedCount int64 // since start
	FreedBytes, FreedCount         int64 // since start
	DroppedBytes, DroppedCount     int64 // handles dropped without a free
	HandedOffBytes, HandedOffCount int64 // ownership handed to C
	LimitHits                      int64 // allocations refused with ErrLimit
}

// key names one fine-grained set of counters.
type key struct {
	kind   Kind
	device int32
	tag    string
}

// keyEntry holds the counters of one (kind, device, tag) and a pointer to
// the tag's totals, so a reservation finds both with one map lookup.
type keyEntry struct {
	counters             // what outside counters bring in, and the rare events
	slots    *entrySlots // the hot path's counters: each slot's share (slots.go)
	tag      *tagEntry
	key      key // what the counters are of; records read their kind, device and tag here
}

// tagEntry holds a tag's totals across kinds and devices, and its limit.
type tagEntry struct {
	totals
	limit atomic.Int64 // 0: none
	name  string       // the tag, as the ledger keeps it
}

var (
	kindCounters [MaxKinds]totals
	kindLimits   [MaxKinds]atomic.Int64 // 0: none
	keyCounters  sync.Map               // key -> *keyEntry; its tag is kept or OverflowTag
	tagCounters  sync.Map               // string -> *tagEntry; at most MaxTags and OverflowTag (tags.go)
)

// entrySlot caches one key's entry. It holds the tag by its bytes'
// address: a tag passed again as the same string constant (the common case)
// is found without hashing the string.
type entrySlot struct {
	tagData *byte
	tagLen  int
	kind    Kind
	device  int32
	e       *keyEntry
}

// entryCache is a direct-mapped cache in front of keyCounters: a hit costs
// one atomic load and a few compares, where sync.Map hashes the whole key.
var entryCache [256]atomic.Pointer[entrySlot]

func entryFor(k key) *keyEntry {
	data := unsafe.StringData(k.tag)
	h := (uintptr(unsafe.Pointer(data))>>4 ^ uintptr(len(k.tag)) ^ uintptr(k.kind)<<3 ^ uintptr(k.device)<<5) % uintptr(len(entryCache))
	if s := entryCache[h].Load(); s != nil && s.tagData == data && s.tagLen == len(k.tag) && s.kind == k.kind && s.device == k.device {
		return s.e
	}
	var e *keyEntry
	full := false
	if v, ok := keyCounters.Load(k); ok {
		e = v.(*keyEntry)
	} else {
		e, full = newEntry(k)
	}
	s := &entrySlot{tagData: data, tagLen: len(k.tag), kind: k.kind, device: k.device, e: e}
	entryCache[h].Store(s)
	// The cap sent the tag to OverflowTag, but it may have been let in
	// since (SetTagLimit, SetMaxTags): whoever let it in cleared the cache
	// after we stored the slot, or we see it now and take the slot back.
	if full && (roomForTags() || isKept(k.tag)) {
		entryCache[h].CompareAndSwap(s, nil)
	}
	return e
}

// newEntry returns the counters of k, made now, or those of k's kind and
// device under OverflowTag when the ledger does not keep k's tag (tags.go);
// full says the cap refused the tag.
func newEntry(k key) (e *keyEntry, full bool) {
	t, full := keptTag(k.tag)
	if t == nil {
		t = overflowTag()
	}
	k.tag = t.name // the ledger's copy
	if v, ok := keyCounters.Load(k); ok {
		return v.(*keyEntry), full
	}
	v, _ := keyCounters.LoadOrStore(k, &keyEntry{tag: t, key: k, slots: new(entrySlots)})
	return v.(*keyEntry), full
}

func isKept(tag string) bool {
	_, ok := tagCounters.Load(tag)
	return ok
}

// TagStats returns the totals for one tag across kinds and devices. A tag
// the ledger does not keep (see MaxTags) has none: its memory is counted in
// TagStats(OverflowTag).
func TagStats(tag string) Stats {
	syncOutside()
	s := Stats{Device: -1, Tag: tag}
	if e, ok := tagCounters.Load(tag); ok {
		e.(*tagEntry).snapshot(&s, func(k *keyEntry) bool { return k.key.tag == tag })
	}
	return s
}

// KindStats returns the totals for one kind of memory, all devices and tags.
//
// Like TagStats and AllStats, it first brings in the counts of memory that
// outside code (C extensions) keeps itself: see tracker/external.
func KindStats(k Kind) Stats {
	syncOutside()
	s := Stats{Kind: k, Device: -1}
	if int(k) < MaxKinds {
		kindCounters[k].snapshot(&s, func(e *keyEntry) bool { return e.key.kind == k })
	}
	return s
}

// AllStats returns the counters for every (kind, device, tag) seen so far,
// sorted by kind, device and tag.
func AllStats() []Stats {
	syncOutside()
	var out []Stats
	keyCounters.Range(func(k, v any) bool {
		kk := k.(key)
		s := Stats{Kind: kk.kind, Device: int(kk.device), Tag: kk.tag}
		v.(*keyEntry).snapshot(&s)
		out = append(out, s)
		return true
	})
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Kind != b.Kind {
			return a.Kind < b.Kind
		}
		if a.Device != b.Device {
			return a.Device < b.Device
		}
		return a.Tag < b.Tag
	})
	return out
}

// LiveBytes returns the bytes live in the ledger across all kinds.
func LiveBytes() int64 {
	var s Stats
	keyCounters.Range(func(_, v any) bool {
		v.(*keyEntry).add(&s)
		return true
	})
	return s.LiveBytes
}
