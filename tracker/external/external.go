// Package external brings counters kept outside the ledger into it. Code
// that cannot call the ledger for each allocation (C code: a cgo callback
// costs about a microsecond) counts its memory itself, per tag; an External
// reads those counters when synced and moves the ledger's counters for its
// kind, each tag and (kind, host, tag) by what changed since the last sync.
// The memory then shows in tracker.KindStats, TagStats and AllStats like
// any other (they sync first), but has no records: no stacks, no leak
// reports.
package external

import (
	"sync"

	"github.com/membridge/membridge/tracker"
	"github.com/membridge/membridge/tracker/internal/outside"
)

// Counts are one tag's counters as a counter outside the ledger keeps
// them: totals since start, not changes.
type Counts = outside.Counts

// An External is one outside counter of one kind of memory (New).
type External struct {
	kind tracker.Kind
	read func(report func(tag string, c Counts))

	mu   sync.Mutex
	last map[string]externalTag
}

// externalTag is what an External last brought in for one outside tag, and
// the counters it brought it into: the tag's own, or OverflowTag's when the
// ledger did not keep the tag. The tag stays with those counters, so that
// what was added is taken back from where it was added even if the tag is
// let in later.
type externalTag struct {
	counts Counts
	entry  any // from outside.Add
}

var externals struct {
	sync.Mutex
	list []*External
}

// New registers an outside counter of kind k. read must call report once
// per tag with that tag's current totals; it is called by Sync (the
// method, and the function the ledger runs before it reads its counters),
// never concurrently with itself.
//
// Outside tags are subject to tracker.MaxTags like any other: one the
// ledger does not keep is counted under tracker.OverflowTag, for good. The External remembers
// the last counts of every tag it was told of, so an outside counter should
// have few tags (the C API has at most 64).
func New(k tracker.Kind, read func(report func(tag string, c Counts))) *External {
	x := &External{kind: k, read: read, last: map[string]externalTag{}}
	externals.Lock()
	externals.list = append(externals.list, x)
	externals.Unlock()
	syncAll := Sync
	outside.Sync.CompareAndSwap(nil, &syncAll)
	return x
}

// Sync syncs every External made so far. The ledger runs it before it
// reads its counters.
func Sync() {
	externals.Lock()
	list := append([]*External(nil), externals.list...)
	externals.Unlock()
	for _, x := range list {
		x.Sync()
	}
}

// Sync reads the outside counters and brings the ledger up to date.
func (x *External) Sync() {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.read(x.update)
}

func (x *External) update(tag string, c Counts) {
	c = clamped(c)
	last := x.last[tag]
	if c == last.counts { // a tag first seen with nothing counted takes no place
		return
	}
	e := outside.Add(uint8(x.kind), tag, last.entry, last.counts, c)
	x.last[tag] = externalTag{c, e}
}

// clamped returns c with every count within [0, MaxInt64]: an outside
// counter is unsigned or may be corrupt, and a negative count (a huge
// unsigned one converted) would move the ledger's totals the wrong way.
func clamped(c Counts) Counts {
	c.LiveBytes, c.LiveCount = max(c.LiveBytes, 0), max(c.LiveCount, 0)
	c.PeakBytes = max(c.PeakBytes, 0)
	c.AllocatedBytes, c.AllocatedCount = max(c.AllocatedBytes, 0), max(c.AllocatedCount, 0)
	c.FreedBytes, c.FreedCount = max(c.FreedBytes, 0), max(c.FreedCount, 0)
	return c
}
