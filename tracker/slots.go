package tracker

import (
	"sync"

	"github.com/membridge/membridge/internal/proc"
)

// The ledger's hot path touches per-P state only. Each P (processor, in
// the Go scheduler's sense) has a slot: the live records entered on it, the
// safety net's nursery for their handles, records given back for reuse, a
// block of record ids, the stack sampler's countdown, and its share of each
// (kind, device, tag) entry's counters. An allocation locks the slot of the
// P it runs on once, a free the slot its record was entered on once: a
// mutex no other P takes unless a goroutine moved between P's mid-call or
// a reader (Stats, LiveRecords, the nursery's promotion) goes through the
// slots. What stays shared is what limits need: a kind's and a tag's live
// total.

// liveSlots is how many slots there are, a power of two; P's beyond it
// share slots.
const liveSlots = 64

// slotRecords is how many freed records a slot keeps for reuse.
const slotRecords = 128

// idBlock is how many record ids a slot takes at a time.
const idBlock = 1024

type liveSlot struct {
	sync.Mutex
	head    *Record // the live set: records entered on this slot
	n       int
	nursery []nurseryEntry

	free     [slotRecords]*Record // records given back by Retire
	nfree    int
	id, idHi uint64 // the slot's last sequence number and the end of its block
	// countdown is the stack sampler's: bytes left before the next sample
	// point (see sampled).
	countdown int64
	index     uint8
	_         [40]byte
}

type liveSet struct {
	shards [liveSlots]liveSlot
}

var live liveSet

func init() {
	for i := range live.shards {
		live.shards[i].index = uint8(i)
	}
}

// mySlot returns the slot of the P the caller runs on now. The goroutine
// may move to another P before it locks the slot: the lock keeps that
// correct, it only costs the other P a wait.
func mySlot() *liveSlot {
	return &live.shards[proc.Current()&(liveSlots-1)]
}

// shard returns the slot r was entered on: an id's low bits name it.
func (s *liveSet) shard(r *Record) *liveSlot { return &s.shards[r.id%liveSlots] }

// takeRecord returns a record to reuse, or a new one, with a new id. The
// caller holds the slot's lock.
func (sl *liveSlot) takeRecord() *Record {
	var r *Record
	if sl.nfree > 0 {
		sl.nfree--
		r = sl.free[sl.nfree]
		sl.free[sl.nfree] = nil
	} else {
		r = new(Record)
	}
	if sl.id == sl.idHi {
		sl.idHi = nextID.Add(idBlock)
		sl.id = sl.idHi - idBlock
	}
	sl.id++
	r.id = sl.id*liveSlots + uint64(sl.index) // unique: each slot's ids end in its index
	return r
}

// link enters r in the slot's live set and counts it in its entry's share
// of the slot, and w's handle in the nursery; it returns a full nursery
// for the caller to promote once it has unlocked the slot. The caller
// holds the slot's lock.
func (sl *liveSlot) link(r *Record, w *nurseryEntry) (full []nurseryEntry) {
	r.next = sl.head
	if sl.head != nil {
		sl.head.prev = r
	}
	sl.head = r
	sl.n++
	r.entry.enter(sl.index, r.bytes)
	return sl.addToNursery(w)
}

// remove takes r out of its slot's live set and counts it out of its
// entry's share of the slot as how says.
func (s *liveSet) remove(r *Record, how leaving) {
	sl := s.shard(r)
	sl.Lock()
	sl.unlink(r, how)
	sl.Unlock()
}

// removeAndRecycle is remove for a freed record, which it then keeps for
// reuse when reuse is set and the slot has room (the garbage collector
// takes it otherwise).
func (s *liveSet) removeAndRecycle(r *Record, reuse bool) {
	sl := s.shard(r)
	sl.Lock()
	sl.unlink(r, leaveFreed)
	if reuse && sl.nfree < slotRecords {
		sl.free[sl.nfree] = r
		sl.nfree++
	}
	sl.Unlock()
}

// unlink takes r out of the slot's live set, its entry's counters and
// the totals it counts in shared. The caller holds the slot's lock.
func (sl *liveSlot) unlink(r *Record, how leaving) {
	if r.prev != nil {
		r.prev.next = r.next
	} else {
		sl.head = r.next
	}
	if r.next != nil {
		r.next.prev = r.prev
	}
	r.prev, r.next = nil, nil
	sl.n--
	e := r.entry
	e.leave(sl.index, r.bytes, how)
	if kc := &kindCounters[e.key.kind]; kc.shared(sl.index, r.bytes) {
		kc.unreserve(r.bytes)
	}
	if e.tag.shared(sl.index, r.bytes) {
		e.tag.unreserve(r.bytes)
	}
}

// enter counts a reservation of n bytes on slot i in the entry: in the
// slot's share, or in the entry's own counters when it is huge.
func (e *keyEntry) enter(i uint8, n int64) {
	if n < hugeBytes {
		e.slots[i].enter(n)
		return
	}
	e.liveBytes.Add(n)
	e.liveCount.Add(1)
	e.allocBytes.Add(n)
	e.allocCount.Add(1)
}

// leave counts a record of n bytes on slot i out of the entry as how says.
func (e *keyEntry) leave(i uint8, n int64, how leaving) {
	if n < hugeBytes {
		e.slots[i].leave(n, how)
		return
	}
	e.liveBytes.Add(-n)
	e.liveCount.Add(-1)
	switch how {
	case leaveFreed:
		e.freedBytes.Add(n)
		e.freedCount.Add(1)
	case leaveCancelled:
		e.allocBytes.Add(-n)
		e.allocCount.Add(-1)
	}
}

// leaving says how a record leaves the ledger, for its entry's counters.
type leaving uint8

const (
	leaveFreed     leaving = iota // released by its owner, or reclaimed by the safety net
	leaveOut                      // handed to C, or a dropped record forgotten: not freed by us
	leaveCancelled                // a reservation whose allocation failed: never allocated
)

// slotCounters is an entry's share of one slot's counters, guarded by
// the slot's lock. Live bytes are what entered and did not leave.
type slotCounters struct {
	inBytes, inCount       int64 // reservations entered
	outBytes, outCount     int64 // left: freed, handed off, forgotten or cancelled
	freedBytes, freedCount int64 // of those, released by the owner or reclaimed
	cancelBytes            int64 // of those, cancelled: never allocated
	cancelCount            int64
}

func (c *slotCounters) enter(n int64) {
	c.inBytes += n
	c.inCount++
}

func (c *slotCounters) leave(n int64, how leaving) {
	c.outBytes += n
	c.outCount++
	switch how {
	case leaveFreed:
		c.freedBytes += n
		c.freedCount++
	case leaveCancelled:
		c.cancelBytes += n
		c.cancelCount++
	}
}

// entrySlots are an entry's shares of the slots: 64 bytes each, a cache
// line, in a block the size of a page, so two P's never share a line.
type entrySlots [liveSlots]slotCounters

// addSlots adds the entry's shares of every slot to s (saturating), and
// returns the live bytes they hold.
func (e *keyEntry) addSlots(s *Stats) (liveBytes int64) {
	var c slotCounters
	for i := range live.shards {
		sl := &live.shards[i]
		sl.Lock()
		x := e.slots[i]
		sl.Unlock()
		c.inBytes += x.inBytes
		c.inCount += x.inCount
		c.outBytes += x.outBytes
		c.outCount += x.outCount
		c.freedBytes += x.freedBytes
		c.freedCount += x.freedCount
		c.cancelBytes += x.cancelBytes
		c.cancelCount += x.cancelCount
	}
	liveBytes = c.inBytes - c.outBytes
	s.LiveBytes = addSat(s.LiveBytes, liveBytes)
	s.LiveCount = addSat(s.LiveCount, c.inCount-c.outCount)
	s.AllocatedBytes = addSat(s.AllocatedBytes, c.inBytes-c.cancelBytes)
	s.AllocatedCount = addSat(s.AllocatedCount, c.inCount-c.cancelCount)
	s.FreedBytes = addSat(s.FreedBytes, c.freedBytes)
	s.FreedCount = addSat(s.FreedCount, c.freedCount)
	return liveBytes
}

// sampled decides, on the slot, whether an allocation of n bytes keeps
// its stack at the stack rate (stack.go says how). The caller holds the slot's
// lock.
func (sl *liveSlot) sampled(n, rate int64) bool {
	switch {
	case rate == 0:
		return false
	case rate == 1:
		return true
	case n <= 0:
		return false
	}
	sl.countdown -= n
	if sl.countdown > 0 {
		return false
	}
	sl.countdown = nextSampleGap(rate)
	return true
}

// resetSampling draws every slot's countdown afresh for rate.
func resetSampling(rate int64) {
	for i := range live.shards {
		sl := &live.shards[i]
		sl.Lock()
		sl.countdown = nextSampleGap(rate)
		sl.Unlock()
	}
}
