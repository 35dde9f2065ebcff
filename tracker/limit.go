package tracker

import (
	"fmt"
	"math"
)

// SetLimit caps the live bytes of one kind of memory; 0 removes the cap (a
// negative value is taken as 0). A reservation that would go over it fails
// with ErrLimit, whatever its size. Memory already live is not affected.
func SetLimit(k Kind, bytes int64) {
	if int(k) < MaxKinds {
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
// OverflowTag, outside the new limit. A tag the ledger never keeps (not
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

// reserveTotals counts n bytes against the kind's and the tag's totals, or
// neither. A request over either limit by itself touches no total; one that
// fits both limits but not what is live in the tag holds its bytes in the
// kind's total only while the tag's is checked.
func reserveTotals(k Kind, e *keyEntry, n int64) error {
	kc := &kindCounters[k]
	kl, tl := kindLimits[k].Load(), e.tag.limit.Load()
	if kl > 0 && n > kl {
		return refuse(kc, &LimitError{Kind: k, Device: int(e.key.device), Tag: e.key.tag, Bytes: n, Limit: kl, Live: kc.liveBytes.Load()})
	}
	if tl > 0 && n > tl {
		return refuse(&e.tag.totals, &LimitError{Kind: k, Device: int(e.key.device), Tag: e.key.tag, ByTag: true, Bytes: n, Limit: tl, Live: e.tag.liveBytes.Load()})
	}
	ok, live := kc.reserveWithin(n, kl)
	if !ok {
		if kl == 0 {
			return overflowError(k, e.key.tag, n, live)
		}
		return refuse(kc, &LimitError{Kind: k, Device: int(e.key.device), Tag: e.key.tag, Bytes: n, Limit: kl, Live: live})
	}
	if ok, live = e.tag.reserveWithin(n, tl); !ok {
		kc.unreserve(n)
		if tl == 0 {
			return overflowError(k, e.key.tag, n, live)
		}
		return refuse(&e.tag.totals, &LimitError{Kind: k, Device: int(e.key.device), Tag: e.key.tag, ByTag: true, Bytes: n, Limit: tl, Live: live})
	}
	return nil
}

// refuse counts a limit's refusal and tells the observers.
func refuse(t *totals, err *LimitError) error {
	t.limitHits.Add(1)
	if observing.Load() != 0 {
		observeLimit(err)
	}
	return err
}

// overflowError refuses a reservation that no limit caps but that would take
// a total past the largest int64: no allocator has that much memory.
func overflowError(k Kind, tag string, n, live int64) error {
	return fmt.Errorf("tracker: reserve %d bytes of %s (tag %q): %d bytes live, the total would pass %d: %w",
		n, k, tag, live, int64(math.MaxInt64), ErrOutOfMemory)
}
