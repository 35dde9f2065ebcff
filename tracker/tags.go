package tracker

import (
	"hash/maphash"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"
)

// The ledger keeps counters per tag, and a Prometheus scrape exports a
// series per tag: a program that makes tags from data (a tag per request
// id, per user) would grow both without bound. So the ledger keeps at most
// MaxTags tags; the memory of any other tag is counted under OverflowTag,
// and TagsOverflowed counts how many tags went there. Totals stay exact:
// every byte is counted under some tag, and the sum over tags is the sum
// over kinds.
//
// The cap is checked only when the ledger meets a tag it has no counters
// for; an allocation under a tag it keeps finds its counters as before,
// with no lock and no allocation.

// OverflowTag is the tag the ledger counts memory under when it does not
// keep the memory's own tag: the tag came after MaxTags others, is not
// valid UTF-8, or is longer than MaxTagLen bytes. Records of such memory
// report OverflowTag as their tag, in reports, profiles and metrics.
//
// The name is reserved, so it cannot be mistaken for a program's tag: no
// tag of that name ever has counters of its own. Memory a program reserves
// under it by name is counted with the overflowed tags (TagsOverflowed
// does not count it as a tag). Its parentheses make it stand out on a
// dashboard. OverflowTag takes no place under MaxTags; a limit set on it
// (SetTagLimit) caps all overflowed memory together.
const OverflowTag = "(overflow)"

// defaultMaxTags is how many tags the ledger keeps unless SetMaxTags says
// otherwise: far more than a program names in its code, far fewer than a
// Prometheus server would want as values of one label.
const defaultMaxTags = 1000

// MaxTagLen is the longest tag, in bytes, that the ledger keeps. A longer
// one is counted under OverflowTag.
const MaxTagLen = 256

var (
	maxTags        atomic.Int64 // 0: no cap
	keptTags       atomic.Int64 // tags in tagCounters, OverflowTag aside
	tagsOverflowed atomic.Int64
	admitMu        sync.Mutex // serializes adding a tag to tagCounters
)

func init() { maxTags.Store(defaultMaxTags) }

// SetMaxTags sets how many tags the ledger keeps (1,000 until
// then) and returns the previous cap; 0 removes the cap (a negative value
// is taken as 0). Tags already kept stay kept when the cap is lowered
// below their number: only new tags are refused. Raising the cap lets new
// tags in from then on; memory an earlier allocation counted under
// OverflowTag stays counted there.
func SetMaxTags(n int) int {
	old := maxTags.Swap(int64(max(n, 0)))
	// Allocations that hit the entry cache would keep finding OverflowTag
	// for a tag that now fits.
	clearEntryCache()
	return int(old)
}

// MaxTags returns the cap SetMaxTags set (defaultMaxTags by default), or
// 0 for none.
func MaxTags() int { return int(maxTags.Load()) }

// TagsKept returns how many tags the ledger keeps counters for, OverflowTag
// not included. It is at most MaxTags, plus tags given a limit once the cap
// was full (see SetTagLimit), plus tags kept before the cap was lowered.
func TagsKept() int { return int(keptTags.Load()) }

// TagsOverflowed returns how many distinct tags the ledger counted under
// OverflowTag instead of their own since the process started: tags past
// MaxTags, not valid UTF-8, or longer than MaxTagLen. Each is counted
// once while the ledger remembers it; it remembers thousands (a hash of
// each, in a fixed table), and past that a tag that comes back may be
// counted again. A non-zero count means the tags are made from data, or
// the cap is too low for the program.
func TagsOverflowed() int64 { return tagsOverflowed.Load() }

// validTag reports whether the ledger may keep tag under its own name: a
// Prometheus label value must be valid UTF-8, and a huge one is no name.
func validTag(tag string) bool {
	return len(tag) <= MaxTagLen && utf8.ValidString(tag)
}

// keptTag returns the totals of tag, making them if the cap leaves room,
// or nil if tag is to be counted under OverflowTag. full says whether the
// cap refused it (not the tag's own form): raising the cap may let it in.
func keptTag(tag string) (e *tagEntry, full bool) {
	if len(tag) > MaxTagLen { // not worth hashing
		noteOverflow(tag)
		return nil, false
	}
	if e, ok := tagCounters.Load(tag); ok {
		return e.(*tagEntry), false
	}
	if tag == OverflowTag {
		return overflowTag(), false
	}
	if !utf8.ValidString(tag) {
		noteOverflow(tag)
		return nil, false
	}
	if e := admitTag(tag, false); e != nil {
		return e, false
	}
	noteOverflow(tag)
	return nil, true
}

// roomForTags reports whether the cap leaves room for another tag.
func roomForTags() bool {
	m := maxTags.Load()
	return m == 0 || keptTags.Load() < m
}

// admitTag makes tag's totals and returns them, or returns nil when the
// cap is full; force makes them whatever the cap (a limit's tag). A tag is
// stored before it is counted, so whoever sees the count that includes it
// also finds it (keptTag, entryFor).
func admitTag(tag string, force bool) *tagEntry {
	if !force && !roomForTags() {
		// Full. A concurrent admission of this very tag stored it first.
		if e, ok := tagCounters.Load(tag); ok {
			return e.(*tagEntry)
		}
		return nil
	}
	admitMu.Lock()
	defer admitMu.Unlock()
	if e, ok := tagCounters.Load(tag); ok {
		return e.(*tagEntry)
	}
	if !force && !roomForTags() {
		return nil
	}
	// The ledger keeps the name for good: a copy, so that a tag sliced
	// from a large buffer does not keep the buffer.
	e := &tagEntry{name: strings.Clone(tag)}
	tagCounters.Store(e.name, e)
	keptTags.Add(1)
	if force {
		// The tag may have overflowed before, and the entry cache may
		// still send it to OverflowTag.
		clearEntryCache()
	}
	return e
}

// overflowTag returns OverflowTag's totals, made on first use outside the
// cap.
func overflowTag() *tagEntry {
	if e, ok := tagCounters.Load(OverflowTag); ok {
		return e.(*tagEntry)
	}
	e, _ := tagCounters.LoadOrStore(OverflowTag, &tagEntry{name: OverflowTag})
	return e.(*tagEntry)
}

// overflowSeen remembers the tags counted in TagsOverflowed, by a hash of
// each (0: an empty slot), so that a tag that overflows on every
// allocation is counted once. A fixed table keeps the memory bounded
// however many tags overflow: when a tag's probe run is full, it takes the
// run's first slot, and the tag there, if it comes back, is counted again.
var (
	overflowSeed = maphash.MakeSeed()
	overflowSeen [1 << 13]atomic.Uint64
)

const overflowProbe = 8

// noteOverflow counts tag in TagsOverflowed unless overflowSeen holds it.
func noteOverflow(tag string) {
	h := max(maphash.String(overflowSeed, tag), 1) // 0 marks an empty slot
	for i := range uint64(overflowProbe) {
		slot := &overflowSeen[(h+i)%uint64(len(overflowSeen))]
		v := slot.Load()
		if v == 0 && slot.CompareAndSwap(0, h) {
			tagsOverflowed.Add(1)
			return
		}
		if v == h || slot.Load() == h {
			return
		}
	}
	overflowSeen[h%uint64(len(overflowSeen))].Store(h)
	tagsOverflowed.Add(1)
}

// clearEntryCache empties the entry cache (stats.go): the next allocation
// of each key looks it up again.
func clearEntryCache() {
	for i := range entryCache {
		entryCache[i].Store(nil)
	}
}
