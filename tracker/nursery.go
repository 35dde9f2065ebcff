package tracker

import (
	"runtime"
	"sync"
	"unsafe"

	"github.com/membridge/membridge/internal/gctick"
)

// The safety net is armed lazily. A runtime cleanup (AddCleanup and its
// Stop) costs more than the rest of an allocation and its free together,
// and most native memory is freed soon after it is made: a request's
// buffers, a batch's scratch. So Watch does not attach a cleanup; it puts
// the handle in a nursery, which holds it strongly. When a nursery shard
// fills, and after every garbage collection, its handles are promoted:
// those still live get their cleanup then, those already freed are let go
// without ever having had one.
//
// A handle dropped while in the nursery is therefore found one collection
// later than a handle watched directly: the collection after its drop
// promotes it, the next one finds it unreachable. GC arms the nursery
// first, so code that must find drops now (tests, the relief of memory
// pressure) needs only one collection.

// nurseryBatch is how many handles one shard holds before it is promoted.
// Promoting a batch of freed handles costs a load per handle.
const nurseryBatch = 256

type nurseryEntry struct {
	obj unsafe.Pointer // the owner's handle, held until promotion
	r   *Record
	seq uint32 // r.watchSeq when Watch was called
}

// armedNet is a record's runtime cleanup, attached to its handle.
type armedNet struct {
	c   runtime.Cleanup
	seq uint32 // which Watch of the record it was armed for
}

// dropArg is what the cleanup of a handle receives: the record, and which
// Watch of it the handle was (after a Move the old handle's cleanup, if one
// is still attached, must not count as a drop).
type dropArg struct {
	r   *Record
	seq uint32
}

var batchPool = sync.Pool{New: func() any {
	b := make([]nurseryEntry, 0, nurseryBatch)
	return &b
}}

// Watch arms the safety net: when obj becomes unreachable while r is still
// live, the ledger records a leak and applies the LeakPolicy. obj is the
// owner's handle; it must not be reachable from r or from its Reclaimer, or
// it never becomes unreachable. Calling Watch again moves the net to a new
// handle (an ownership move): the old handle's drop no longer counts.
//
// The net is armed lazily (see GC): a dropped handle is found within two
// garbage collections of its drop, or one after GC.
func Watch[T any](obj *T, r *Record) {
	seq := r.watchSeq.Add(1)
	r.disarm()
	sh := live.shard(r)
	sh.Lock()
	full := sh.addToNursery(&nurseryEntry{unsafe.Pointer(obj), r, seq})
	sh.Unlock()
	if full != nil {
		promote(full)
	}
}

// addToNursery appends w (if not nil) to the shard's nursery and returns
// the nursery if that filled it, for the caller to promote once it has
// unlocked the shard. The caller holds the shard's lock.
func (sl *liveSlot) addToNursery(w *nurseryEntry) (full []nurseryEntry) {
	if w == nil {
		return nil
	}
	if sl.nursery == nil {
		sl.nursery = (*batchPool.Get().(*[]nurseryEntry))[:0]
	}
	sl.nursery = append(sl.nursery, *w)
	if len(sl.nursery) < nurseryBatch {
		return nil
	}
	full, sl.nursery = sl.nursery, nil
	return full
}

// disarm stops the record's cleanup, if the nursery armed one.
func (r *Record) disarm() {
	if r.net.Load() == nil {
		return
	}
	if a := r.net.Swap(nil); a != nil {
		a.c.Stop()
	}
}

// promote arms the net of every handle in batch that is still live and
// watched, and gives the batch back to the pool.
func promote(batch []nurseryEntry) {
	for i := range batch {
		e := &batch[i]
		// A record still reserved is being allocated: its handle is
		// watched now, and a drop found after a failed allocation finds it
		// cancelled and does nothing.
		if st := e.r.state.Load(); (st == stateLive || st == stateReserved) && e.r.watchSeq.Load() == e.seq {
			arm(e.obj, e.r, e.seq)
			*e = nurseryEntry{} // a pooled batch must not keep a live handle reachable
		}
		// An entry whose memory was freed keeps its garbage until the batch
		// is reused: clearing it would cost a write barrier per allocation.
	}
	batch = batch[:0]
	batchPool.Put(&batch)
}

func arm(obj unsafe.Pointer, r *Record, seq uint32) {
	a := &armedNet{c: runtime.AddCleanup((*byte)(obj), onDropped, dropArg{r, seq}), seq: seq}
	for {
		old := r.net.Load()
		if old != nil && old.seq > seq { // a later handle's net is armed already
			a.c.Stop()
			return
		}
		if r.net.CompareAndSwap(old, a) {
			if old != nil {
				old.c.Stop()
			}
			break
		}
	}
	// The owner may have freed or moved the memory meanwhile, and seen no
	// net to stop: stop it here. (If both stop it, the second does nothing;
	// if neither does, the cleanup finds the record freed and does nothing.)
	if st := r.state.Load(); (st != stateLive && st != stateReserved) || r.watchSeq.Load() != seq {
		if r.net.CompareAndSwap(a, nil) {
			a.c.Stop()
		}
	}
}

// armNursery promotes every shard now.
func armNursery() {
	for i := range live.shards {
		sh := &live.shards[i]
		sh.Lock()
		batch := sh.nursery
		sh.nursery = nil
		sh.Unlock()
		if batch != nil {
			promote(batch)
		}
	}
}

// GC arms the safety net for every handle still in the nursery and runs a
// garbage collection, so that handles dropped without a free before the
// call are found by it. Their cleanups run soon after, on the runtime's
// cleanup goroutine; a caller that must see their effect waits or polls
// the ledger. runtime.GC finds them too, one collection later.
func GC() {
	armNursery()
	runtime.GC()
}

// The nursery is promoted after every garbage collection (internal/gctick).
func init() { gctick.Every(armNursery) }
