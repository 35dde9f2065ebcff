package tracker

import (
	"fmt"
	"math"
)

// SetLimit caps the live bytes of one kind of memory; 0 removes the cap (a
// negative value is taken as 0). A reservation that would go over it fails
// with ErrLimit, whatever its size. Memory already live is not affected.
//
// The first limit set on a kind makes its live total shared: until then
// each P counts the kind's bytes on its own (see slots.go), and from then
// on every reservation of the kind checks and moves one shared total.
func SetLimit(k Kind, bytes int64) {
	if int(k) < MaxKinds {
		if bytes > 0 {
			kindCounters[k].drainSlots(func(e *keyEntry) bool { return e.key.kind == k })
		}
		kindLimits[k].Store(max(bytes, 0))
	}
}

// Limit returns the cap set with SetLimit, or 0.
func Limit(k Kind) int64 {
	if int(k) < MaxKinds {
		return kindLimits[k].Load()
	}
	return 0
}

// SetTagLimit caps the live bytes of one tag across kinds and devices; 0
// removes the cap (a negative value is taken as 0). A service's budget is
// such a limit on the tag its requests allocate under.
//
// A limit reserves its tag a place in the ledger, past MaxTags if need be:
// a budget is enforced on the tag's own bytes, never on OverflowTag's
// mixture, so set limits on the few tags the program names, not on tags
// made from data (each place is kept for good). A tag that overflowed
// before its limit was set is counted under its own name from then on;
// what it had reserved until then stays counted, and is given back, under
// OverflowTag, outside the new limit. As with SetLimit, the first limit
// makes the tag's live total shared. A tag the ledger never keeps (not
// valid UTF-8, or longer than MaxTagLen) takes no limit: SetTagLimit
// ignores it and TagLimit returns 0.
func SetTagLimit(tag string, bytes int64) {
	bytes = max(bytes, 0)
	if bytes == 0 { // removing a limit makes no place
		if e, ok := tagCounters.Load(tag); ok {
			e.(*tagEntry).limit.Store(0)
		}
		return
	}
	var e *tagEntry
	switch {
	case tag == OverflowTag:
		e = overflowTag()
	case !validTag(tag):
		return
	default:
		e = admitTag(tag, true)
	}
	e.drainSlots(func(k *keyEntry) bool { return k.tag == e })
	e.limit.Store(bytes)
}

// TagLimit returns the cap set with SetTagLimit, or 0.
func TagLimit(tag string) int64 {
	if e, ok := tagCounters.Load(tag); ok {
		return e.(*tagEntry).limit.Load()
	}
	return 0
}

// A LimitError is what Allocate returns when a limit refuses a reservation.
// It wraps ErrLimit; get it with errors.As to learn which limit refused and
// by how much, or pass its Shortage to Relieve.
type LimitError struct {
	Kind   Kind
	Device int    // -1 for host memory
	Tag    string //
	ByTag  bool   // the tag's limit refused (SetTagLimit); false: the kind's (SetLimit)
	Bytes  int64  // what the reservation asked for
	Limit  int64  // the limit that refused it
	Live   int64  // the limited total's live bytes when it refused
}

func (e *LimitError) Error() string {
	what := "kind"
	if e.ByTag {
		what = "tag"
	}
	return fmt.Sprintf("tracker: reserve %d bytes of %s (tag %q): %s limit %d bytes, %d live: %v",
		e.Bytes, e.Kind, e.Tag, what, e.Limit, e.Live, ErrLimit)
}

// Unwrap returns ErrLimit.
func (e *LimitError) Unwrap() error { return ErrLimit }

// Shortage says what the refusal is short of: the kind's or the tag's
// limit, and the bytes asked for.
func (e *LimitError) Shortage() Shortage {
	if e.ByTag {
		return Shortage{Bytes: e.Bytes, Cause: ShortTagLimit, Kind: e.Kind, Tag: e.Tag}
	}
	return Shortage{Bytes: e.Bytes, Cause: ShortKindLimit, Kind: e.Kind, Tag: e.Tag}
}

// reserveTotals counts n bytes against the kind's and the tag's shared
// totals where they count shared (kindShared, tagShared: see
// totals.shared), or neither. A request over either limit by itself
// touches no total; one that fits both limits but not what is live in the
// tag holds its bytes in the kind's total only while the tag's is checked.
// A total a slot counts on its own is only checked: against its limit,
// and against passing MaxInt64 with what it shares already.
func reserveTotals(k Kind, e *keyEntry, n int64, kindShared, tagShared bool) error {
	kc := &kindCounters[k]
	kl, tl := kindLimits[k].Load(), e.tag.limit.Load()
	if kl > 0 && n > kl {
		return refuse(kc, &LimitError{Kind: k, Device: int(e.key.device), Tag: e.key.tag, Bytes: n, Limit: kl, Live: kc.liveBytes.Load()})
	}
	if tl > 0 && n > tl {
		return refuse(&e.tag.totals, &LimitError{Kind: k, Device: int(e.key.device), Tag: e.key.tag, ByTag: true, Bytes: n, Limit: tl, Live: e.tag.liveBytes.Load()})
	}
	if !kindShared {
		if live := kc.liveBytes.Load(); n > math.MaxInt64-max(live, 0) {
			return overflowError(k, e.key.tag, n, live)
		}
	} else if ok, live := kc.reserveWithin(n, kl); !ok {
		if kl == 0 {
			return overflowError(k, e.key.tag, n, live)
		}
		return refuse(kc, &LimitError{Kind: k, Device: int(e.key.device), Tag: e.key.tag, Bytes: n, Limit: kl, Live: live})
	}
	if !tagShared {
		if live := e.tag.liveBytes.Load(); n > math.MaxInt64-max(live, 0) {
			if kindShared {
				kc.unreserve(n)
			}
			return overflowError(k, e.key.tag, n, live)
		}
	} else if ok, live := e.tag.reserveWithin(n, tl); !ok {
		if kindShared {
			kc.unreserve(n)
		}
		if tl == 0 {
			return overflowError(k, e.key.tag, n, live)
		}
		return refuse(&e.tag.totals, &LimitError{Kind: k, Device: int(e.key.device), Tag: e.key.tag, ByTag: true, Bytes: n, Limit: tl, Live: live})
	}
	return nil
}

// reserveHuge counts a huge reservation (hugeBytes or more) in the kind's
// and the tag's shared totals, checked against the bytes the slots count on
// their own too (held back from the room), so that no total can pass
// MaxInt64 however its bytes are spread. A total under a limit is shared
// in every slot: nothing is held back from it.
func reserveHuge(k Kind, e *keyEntry, n int64) error {
	kc, tc := &kindCounters[k], &e.tag.totals
	kl, tl := kindLimits[k].Load(), e.tag.limit.Load()
	if kl > 0 && n > kl {
		return refuse(kc, &LimitError{Kind: k, Device: int(e.key.device), Tag: e.key.tag, Bytes: n, Limit: kl, Live: kc.liveBytes.Load()})
	}
	if tl > 0 && n > tl {
		return refuse(tc, &LimitError{Kind: k, Device: int(e.key.device), Tag: e.key.tag, ByTag: true, Bytes: n, Limit: tl, Live: tc.liveBytes.Load()})
	}
	kindSlots := slotShares(kc, func(x *keyEntry) bool { return x.key.kind == k })
	tagSlots := slotShares(tc, func(x *keyEntry) bool { return x.tag == e.tag })
	ok, live := kc.reserveWithin(n, roomBeside(kl, kindSlots))
	if !ok {
		if kl == 0 {
			return overflowError(k, e.key.tag, n, addSat(live, kindSlots))
		}
		return refuse(kc, &LimitError{Kind: k, Device: int(e.key.device), Tag: e.key.tag, Bytes: n, Limit: kl, Live: live})
	}
	if ok, live = tc.reserveWithin(n, roomBeside(tl, tagSlots)); !ok {
		kc.unreserve(n)
		if tl == 0 {
			return overflowError(k, e.key.tag, n, addSat(live, tagSlots))
		}
		return refuse(tc, &LimitError{Kind: k, Device: int(e.key.device), Tag: e.key.tag, ByTag: true, Bytes: n, Limit: tl, Live: live})
	}
	return nil
}

// roomBeside is the room reserveWithin gets for a total with limit l (0:
// none) when the slots hold slots bytes of it outside its shared count.
func roomBeside(l, slots int64) int64 {
	if l == 0 {
		l = math.MaxInt64
	}
	return max(l-slots, 1) // reserveWithin takes 0 as no limit: 1 byte of room refuses every huge request
}

// slotShares returns the bytes the slots that do not count t shared hold of
// it (match says which entries are t's).
func slotShares(t *totals, match func(*keyEntry) bool) int64 {
	d := t.drained.Load()
	if d == ^uint64(0) {
		return 0
	}
	var n int64
	for i := range live.shards {
		if d&(1<<i) != 0 {
			continue
		}
		sl := &live.shards[i]
		sl.Lock()
		n = addSat(n, slotLive(i, match))
		sl.Unlock()
	}
	return max(n, 0)
}

// refuse counts a limit's refusal. The observers are told by reserve,
// once it holds no lock (observeRefusal).
func refuse(t *totals, err *LimitError) error {
	t.limitHits.Add(1)
	return err
}

// observeRefusal tells the observers of a limit's refusal in err, if any.
func observeRefusal(err error) {
	if le, ok := err.(*LimitError); ok && observing.Load() != 0 {
		observeLimit(le)
	}
}

// overflowError refuses a reservation that no limit caps but that would take
// a total past the largest int64: no allocator has that much memory.
func overflowError(k Kind, tag string, n, live int64) error {
	return fmt.Errorf("tracker: reserve %d bytes of %s (tag %q): %d bytes live, the total would pass %d: %w",
		n, k, tag, live, int64(math.MaxInt64), ErrOutOfMemory)
}
