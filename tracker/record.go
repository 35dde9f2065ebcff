package tracker

import (
	"fmt"
	"slices"
	"sync/atomic"
	"time"
	_ "unsafe" // go:linkname
)

// A Reclaimer gives memory back when the safety net finds a record whose
// handle was dropped without a free. It runs on the runtime's cleanup
// goroutine: an owner whose memory must be freed on a particular thread or
// in a particular context (CUDA) must only queue the work there.
type Reclaimer interface {
	Reclaim(r *Record)
}

// ReclaimFunc adapts a function to Reclaimer.
type ReclaimFunc func(r *Record)

// Reclaim calls f(r).
func (f ReclaimFunc) Reclaim(r *Record) { f(r) }

// The states of a record. Only the transitions in the comments happen.
const (
	stateReserved  uint32 = iota // -> live (Commit) or cancelled (Cancel)
	stateLive                    // -> freed, handed, dropped or reclaimed
	stateFreed                   // released by its owner
	stateHanded                  // ownership handed to C
	stateDropped                 // handle dropped, memory still allocated (LeakReport)
	stateReclaimed               // handle dropped, memory reclaimed by the safety net
	stateCancelled               // the allocation failed after the reservation
)

// A Record is one allocation in the ledger. Its identity, size, tag and
// stack never change while it is live; its state does, atomically. Once
// freed, a record without a stack may be reused for a later allocation
// (Retire). It is kept small (one 96-byte size class) because one is
// needed per allocation:
// kind, device and tag live in the shared counters entry, and what only
// debugging needs lives behind dbg.
type Record struct {
	id       uint64 // new for each allocation: a recycled record gets a new one
	state    atomic.Uint32
	watchSeq atomic.Uint32 // counts Watch calls: a net armed for an older handle is ignored
	bytes    int64
	addr     uintptr
	born     time.Duration // since epoch, from the coarse clock
	entry    *keyEntry     // the counters of (kind, device, tag); its key names them
	dbg      *recordDebug  // nil unless a stack or the test mode's goroutines were kept
	reclaim  Reclaimer
	net      atomic.Pointer[armedNet] // the runtime cleanup, once the nursery armed one (nursery.go)

	prev, next *Record // live set links, guarded by the slot's lock
}

// recordDebug is what a record keeps when stacks or test attribution are on.
type recordDebug struct {
	stack   []uintptr    // allocation stack, or nil
	rate    int64        // stack rate when the stack was taken
	gid     uint64       // goroutine that reserved it (test attribution only)
	creator uint64       // goroutine that created that goroutine
	freeLen atomic.Int32 // frames of the free stack, kept in stack's spare capacity
}

// epoch anchors record times; sinceEpoch reads the runtime's monotonic
// clock, which time.Since reads with more around it. Records, one per
// allocation, take the coarse clock (clock.go) instead.
var (
	epoch     = time.Now()
	epochNano = nanotime()
)

//go:linkname nanotime runtime.nanotime
func nanotime() int64

func sinceEpoch() time.Duration { return time.Duration(nanotime() - epochNano) }

var nextID atomic.Uint64

// ID is unique among all records of the process.
func (r *Record) ID() uint64 { return r.id }

// Kind is the kind of memory.
func (r *Record) Kind() Kind { return r.entry.key.kind }

// Device is the device ordinal, or -1 for host memory.
func (r *Record) Device() int { return int(r.entry.key.device) }

// Bytes is the size of the allocation.
func (r *Record) Bytes() int64 { return r.bytes }

// Tag says what the memory is for: the tag it was reserved under, or
// OverflowTag when the ledger does not keep that tag (see MaxTags).
func (r *Record) Tag() string { return r.entry.key.tag }

// Addr is the address the owner committed (0 before Commit).
func (r *Record) Addr() uintptr { return r.addr }

// Age is how long ago the record was reserved.
func (r *Record) Age() time.Duration { return sinceEpoch() - r.born }

// Stack returns the allocation stack, or nil when none was captured.
func (r *Record) Stack() []uintptr {
	if r.dbg == nil {
		return nil
	}
	s := r.dbg.stack
	return s[:len(s):len(s)] // the spare capacity holds the free stack
}

// StackRate returns the stack rate in force when the stack was captured
// (1: every allocation; N: sampled, one per N bytes on average), or 0 when
// no stack was captured. Profiles use it to scale sampled records.
func (r *Record) StackRate() int64 {
	if r.dbg == nil {
		return 0
	}
	return r.dbg.rate
}

// goroutines returns the goroutine that reserved r and its creator, when
// the test mode noted them (0 otherwise).
func (r *Record) goroutines() (gid, creator uint64) {
	if r.dbg == nil {
		return 0, 0
	}
	return r.dbg.gid, r.dbg.creator
}

// Live reports whether the owner still holds the record (neither freed,
// handed to C, dropped nor cancelled).
func (r *Record) Live() bool { return r.state.Load() == stateLive }

// Dropped reports whether the safety net found the record's handle dropped.
func (r *Record) Dropped() bool {
	s := r.state.Load()
	return s == stateDropped || s == stateReclaimed
}

// FreeStack returns where the record was released, when stacks are kept for
// every allocation (stack rate 1), or nil.
func (r *Record) FreeStack() []uintptr {
	if r.dbg == nil {
		return nil
	}
	// Written by the one Release that won the state change, then published
	// by the length; read by losers that report a use after free.
	if n := r.dbg.freeLen.Load(); n > 0 {
		s := r.dbg.stack
		return s[len(s) : len(s)+int(n) : len(s)+int(n)]
	}
	return nil
}

// commit makes a reserved record live at addr. reclaim frees the memory if
// the safety net finds the handle dropped; nil for memory membridge must
// never free.
func (r *Record) commit(addr uintptr, reclaim Reclaimer) {
	r.addr = addr
	r.reclaim = reclaim
	if !r.state.CompareAndSwap(stateReserved, stateLive) {
		r.panicNotReserved("Commit")
	}
	kindCounters[r.Kind()].commit()
	r.entry.tag.commit()
}

// cancel gives back the bytes of a reservation whose allocation failed.
func (r *Record) cancel() {
	if !r.state.CompareAndSwap(stateReserved, stateCancelled) {
		r.panicNotReserved("Cancel")
	}
	r.disarm() // the nursery may have armed the net of the handle meanwhile
	live.remove(r, leaveCancelled)
	wakeLimitWaiters()
	if observing.Load() != 0 {
		r.observe(evAllocFailed)
	}
}

// Release ends a live record because its owner freed the memory (or is
// about to). It returns false, and changes nothing, when the record is no
// longer live: exactly one of several concurrent calls returns true. It
// stops the safety net.
func (r *Record) Release() bool {
	if !r.state.CompareAndSwap(stateLive, stateFreed) {
		return false
	}
	r.end(leaveFreed)
	wakeLimitWaiters()
	if observing.Load() != 0 {
		r.observe(evFree)
	}
	return true
}

// Retire is Release that also gives the record back to the ledger, to be
// reused by a later allocation on its slot: the one Go allocation of a
// record is then saved. It is for an owner that reads nothing of the
// record once it is released: the owner, and everyone it gave r to, must
// not use r afterwards (keep Key before). It returns what Release returns.
// A record that keeps a stack or the test mode's goroutines is released
// and left readable, for use-after-free messages; one whose safety net a
// Watch may still arm is released and not reused.
func (r *Record) Retire() bool {
	if r.dbg != nil {
		return r.Release()
	}
	if !r.state.CompareAndSwap(stateLive, stateFreed) {
		return false
	}
	r.disarm()
	wakeLimitWaiters()
	if observing.Load() != 0 {
		r.observe(evFree)
	}
	// A net armed meanwhile may still name r, so r is not reused;
	// otherwise the count moves past every old watch, so no nursery entry
	// or cleanup of the old handle matches r again, whoever reuses it.
	reuse := r.net.Load() == nil
	if reuse {
		r.reclaim = nil
		r.watchSeq.Add(1)
	}
	live.removeAndRecycle(r, reuse) // r may be reused from here on
	return true
}

// Key names what a record's memory is: its kind, device and tag. Unlike
// the record, it stays valid after the record is recycled.
type Key struct{ e *keyEntry }

// Key returns the record's kind, device and tag.
func (r *Record) Key() Key { return Key{r.entry} }

// Kind is the kind of memory.
func (k Key) Kind() Kind { return k.e.key.kind }

// Device is the device ordinal, or -1 for host memory.
func (k Key) Device() int { return int(k.e.key.device) }

// Tag says what the memory is for, as Record.Tag does.
func (k Key) Tag() string { return k.e.key.tag }

// HandOff ends a live record because ownership went to C code, which will
// free the memory itself: the ledger no longer counts it as live and no
// report will ever blame it. It returns false when the record is not live.
func (r *Record) HandOff() bool {
	if !r.state.CompareAndSwap(stateLive, stateHanded) {
		return false
	}
	r.end(leaveOut)
	wakeLimitWaiters()
	r.entry.handBytes.Add(r.bytes)
	r.entry.handCount.Add(1)
	if observing.Load() != 0 {
		r.observe(evHandOff)
	}
	return true
}

func (r *Record) end(how leaving) {
	r.disarm()
	if d := r.dbg; d != nil && d.rate == 1 {
		spare := d.stack[len(d.stack):cap(d.stack)]
		d.freeLen.Store(int32(callersInto(spare))) // reports drop the leading frames inside membridge
	}
	live.remove(r, how)
}

// LiveRecords calls fn for every record in the ledger that is live or was
// dropped while still allocated, until fn returns false. Records are
// visited one shard at a time; fn must not allocate or free through
// membridge, and must not keep a record past its call: once freed, a record
// without a stack may be reused for another allocation (LiveSnapshots
// keeps values instead).
func LiveRecords(fn func(*Record) bool) {
	for i := range live.shards {
		sh := &live.shards[i]
		sh.Lock()
		for r := sh.head; r != nil; r = r.next {
			if r.state.Load() == stateReserved {
				continue // still being allocated: not in the ledger's books yet
			}
			if !fn(r) {
				sh.Unlock()
				return
			}
		}
		sh.Unlock()
	}
}

// A Snapshot is what a record says, as a value: it stays valid however
// the record ends, where a *Record given back to the ledger may be reused
// for a later allocation (see Retire). Owners hand out snapshots of their
// handles' records (native.Buffer.Snapshot, cuda.DeviceBuffer.Snapshot).
type Snapshot struct {
	ID        uint64 // unique among the records of the process
	Kind      Kind
	Device    int    // the device ordinal, or -1 for host memory
	Tag       string // as Record.Tag
	Bytes     int64
	Addr      uintptr   // the committed address
	Born      time.Time // when the record was reserved (coarse clock)
	Stack     []uintptr // the allocation stack (a copy), or nil
	StackRate int64     // as Record.StackRate
	FreeStack []uintptr // where it was released (a copy), when kept
	Live      bool      // the owner held it when the snapshot was taken
	Dropped   bool      // the safety net found its handle dropped
}

// Snapshot returns what r says now, as a value; a zero Snapshot for nil.
func (r *Record) Snapshot() Snapshot {
	if r == nil {
		return Snapshot{}
	}
	s := r.state.Load()
	return Snapshot{
		ID: r.id, Kind: r.Kind(), Device: r.Device(), Tag: r.Tag(), Bytes: r.bytes,
		Addr: r.addr, Born: epoch.Add(r.born),
		Stack: slices.Clone(r.Stack()), StackRate: r.StackRate(), FreeStack: slices.Clone(r.FreeStack()),
		Live: s == stateLive, Dropped: s == stateDropped || s == stateReclaimed,
	}
}

// Age is how long ago the record was reserved.
func (s Snapshot) Age() time.Duration { return time.Since(s.Born) }

// LiveSnapshots returns snapshots of the records LiveRecords would visit:
// what is live, and what was dropped while still allocated.
func LiveSnapshots() []Snapshot {
	var out []Snapshot
	LiveRecords(func(r *Record) bool {
		out = append(out, r.Snapshot())
		return true
	})
	return out
}

// The panics of the reserve/commit path are built out of line, so that
// formatting them costs the hot functions neither inlining nor a larger
// frame (an inline fmt.Sprintf kept Commit from being inlined: +10% on an
// alloc+free pair).

//go:noinline
func panicKind(k Kind) {
	panic(fmt.Sprintf("membridge: tracker.Allocate with kind %d: at most %d kinds exist (RegisterKind)", k, MaxKinds))
}

//go:noinline
func (r *Record) panicNotReserved(op string) {
	panic(fmt.Sprintf("membridge: tracker: %s of a record that is not reserved (%d bytes of %s, tag %q): committed, cancelled or released already", op, r.bytes, r.Kind(), r.Tag()))
}

// stable returns r, or a copy of r if r may be recycled after its free,
// for reading outside LiveRecords. The caller holds r's shard lock, so r is
// not recycled meanwhile.
func (r *Record) stable() *Record {
	s := r.state.Load()
	if r.dbg != nil || s == stateDropped || s == stateReclaimed {
		return r
	}
	c := &Record{id: r.id, bytes: r.bytes, addr: r.addr, born: r.born, entry: r.entry}
	c.state.Store(s)
	c.watchSeq.Store(r.watchSeq.Load())
	return c
}
