package tracker

import (
	"context"
	"errors"
	"fmt"
	"unsafe"
)

// This file holds the owner protocol: the one way memory enters the
// ledger. Every owner (package native's buffers, arena chunks and adopted
// memory, package cuda's device and pinned buffers, the traced C blocks of
// package cext, package handle's handles) hands Allocate what it wants and
// a function that makes the allocation; the ledger reserves the bytes
// against the limits, runs the function, relieves memory pressure and
// retries once when the allocator ran out, records the retry, and commits
// the record or gives the bytes back.

// A Request says what an owner asks the ledger for.
type Request struct {
	Kind   Kind
	Device int // the device ordinal; -1 for host memory (the zero value is device 0)
	Tag    string
	Bytes  int64
	// Context, when not nil, makes a reservation refused by a limit wait
	// for room (back-pressure) until the context ends, after one relief
	// and retry; the error then wraps both ErrLimit and the context's
	// error. A nil Context, or one that never ends, returns the refusal at
	// once (after the relief and retry).
	Context context.Context
	// Addr is where memory that exists already is (adopted memory, a block
	// C code allocated): with a nil alloc, Allocate enters it at Addr, and
	// a limit's refusal returns at once, since freeing other memory cannot
	// undo an allocation already made.
	Addr uintptr
}

// Allocate enters an allocation in the ledger for the handle owner, the
// way every owner does it:
//
//  1. Reserve req.Bytes of req.Kind on req.Device under req.Tag against the
//     limits (a refusal: Relieve for that shortage, then one retry if it freed
//     anything; with req.Context, wait for room). The allocation stack is
//     captured here; reports show it from the first frame outside
//     membridge's library packages, so the site is the user's call.
//  2. Call alloc, which makes the allocation and returns its address (nil
//     alloc: the memory exists already, at req.Addr). An error wrapping
//     ErrOutOfMemory runs Relieve and calls
//     alloc once more; the retry and its outcome are counted in Pressure
//     and noted in the event history.
//  3. On alloc's error, give the reservation back and return the error as
//     alloc returned it. On success commit the record at the address with
//     reclaim, and arm the safety net for owner (see Watch).
//
// A refused reservation returns the ledger's error (wrapping ErrLimit or
// ErrInvalidSize) and never calls alloc. alloc runs on the caller's
// goroutine before Allocate returns and is not kept: a closure over the
// caller's variables costs no allocation.
func Allocate[T any](owner *T, req Request, alloc func() (uintptr, error), reclaim Reclaimer) (*Record, error) {
	return allocate(unsafe.Pointer(owner), &req, alloc, reclaim)
}

// AllocateUnwatched is Allocate for memory that has no Go handle to watch
// (memory C code holds, a reservation a program keeps by hand): the
// safety net never finds it dropped, so only Release ends it.
func AllocateUnwatched(req Request, alloc func() (uintptr, error), reclaim Reclaimer) (*Record, error) {
	return allocate(nil, &req, alloc, reclaim)
}

// allocate is Allocate's body; obj nil: no watch. Its frame, reserve's and
// those of the stack capture are the ledger's own, left out of the stack.
//
//go:noinline
func allocate(obj unsafe.Pointer, req *Request, alloc func() (uintptr, error), reclaim Reclaimer) (*Record, error) {
	r, err := reserve(req.Kind, req.Device, req.Tag, req.Bytes, obj)
	if err != nil {
		if alloc == nil {
			return nil, err // the memory exists already: see Request.Addr
		}
		if r, err = reserveRefused(req, obj, err); err != nil {
			return nil, err
		}
	}
	addr := req.Addr
	if alloc != nil {
		addr, err = alloc()
		if err != nil {
			addr, err = r.retryAlloc(err, alloc)
			if err != nil {
				r.cancel()
				return nil, err
			}
		}
	}
	r.commit(addr, reclaim)
	if observing.Load() != 0 {
		r.observe(evAlloc)
	}
	return r, nil
}

// retryAlloc is the out-of-memory step of allocate: after err from alloc,
// relieve and call alloc once more if err says the allocator ran out.
//
//go:noinline
func (r *Record) retryAlloc(err error, alloc func() (uintptr, error)) (uintptr, error) {
	if !errors.Is(err, ErrOutOfMemory) {
		return 0, err
	}
	Relieve(Shortage{Bytes: r.bytes})
	addr, err := alloc()
	r.retried(err == nil)
	return addr, err
}

// reserveRefused is the refused path of allocate: relieve what the refusal
// is short of and retry once, then, with a context that can end, wait for
// room. A refusal other than a limit's returns at once. The retry after a
// relief happens only when the relief freed something, so a limit counts
// one refusal when nothing could be given back. A request larger than the
// limit itself gets ErrLimit at once.
func reserveRefused(req *Request, obj unsafe.Pointer, err error) (*Record, error) {
	k, tag, n := req.Kind, req.Tag, req.Bytes
	if !errors.Is(err, ErrLimit) {
		return nil, err
	}
	if Relieve(ShortageOf(err, n)) > 0 {
		r, err2 := reserve(k, req.Device, tag, n, obj)
		countRetry(err2 == nil)
		if err2 == nil || !errors.Is(err2, ErrLimit) {
			return r, err2
		}
		err = err2
	}
	ctx := req.Context
	if ctx == nil || ctx.Done() == nil {
		return nil, err // a context that never ends would wait forever
	}
	if l := Limit(k); l > 0 && n > l {
		return nil, err // larger than the limit itself: no release makes room
	}
	if l := TagLimit(tag); l > 0 && n > l {
		return nil, err
	}
	return waitForRoom(req, obj)
}

// reserve counts n bytes of kind k on device (-1 for host) under tag
// against the limits and returns a reserved record, entered in the slot of
// the caller's P (slots.go) with obj's handle in its nursery (obj nil: no
// watch), with the allocation stack when the stack rate says so.
//
//go:noinline
func reserve(k Kind, device int, tag string, n int64, obj unsafe.Pointer) (*Record, error) {
	if n < 0 {
		return nil, fmt.Errorf("tracker: reserve %d bytes of %s (tag %q): %w", n, k, tag, ErrInvalidSize)
	}
	if int(k) >= MaxKinds {
		panicKind(k)
	}
	e := entryFor(key{k, int32(device), tag})
	huge := n >= hugeBytes
	if huge {
		if err := reserveHuge(k, e, n); err != nil {
			observeRefusal(err)
			return nil, err
		}
	}
	rate := stackRate.Load()
	sl := mySlot()
	sl.Lock()
	// Which totals the slot counts shared is read under its lock, where
	// drainSlots changes it (limit.go).
	if !huge {
		if err := reserveTotals(k, e, n, kindCounters[k].shared(sl.index, n), e.tag.shared(sl.index, n)); err != nil {
			sl.Unlock()
			observeRefusal(err)
			return nil, err
		}
	}
	// Fresh, or recycled (Retire): no field but watchSeq carries over, and
	// nothing else reads a recycled record's plain fields (see Retire).
	r := sl.takeRecord()
	r.state.Store(stateReserved)
	r.bytes, r.addr = n, 0
	// A reused record never kept a stack (see Retire), so dbg is nil
	// already; and it is often of the same entry: a pointer written only
	// when it changes costs no write barrier while the collector marks.
	if r.entry != e {
		r.entry = e
	}
	sample := sl.sampled(n, rate)
	var w *nurseryEntry
	if obj != nil {
		// A fresh record was never watched, and Retire moved a reused
		// one's count past every old entry and cleanup: the count is new.
		w = &nurseryEntry{obj, r, r.watchSeq.Load()}
	}
	full := sl.link(r, w)
	sl.Unlock()
	if full != nil {
		promote(full)
	}
	// Readers skip a reserved record, and commit's store of its state
	// publishes what is written here.
	r.born = coarseSinceEpoch()
	if sample {
		spare := 0
		if rate == 1 { // room for the free stack (end), in the same allocation
			spare = int(stackDepth.Load())
		}
		r.dbg = &recordDebug{stack: callers(spare), rate: rate}
	}
	if attribution.Load() {
		if r.dbg == nil {
			r.dbg = &recordDebug{}
		}
		r.dbg.gid, r.dbg.creator = goroutineIDs()
	}
	return r, nil
}
