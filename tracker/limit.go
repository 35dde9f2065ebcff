package tracker

import "fmt"

// SetLimit caps the live bytes of one kind of memory; 0 removes the cap.
// A reservation that would go over it fails with ErrLimit. Memory already
// live is not affected.
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
// removes the cap.
func SetTagLimit(tag string, bytes int64) {
	tagFor(tag).limit.Store(max(bytes, 0))
}

// TagLimit returns the cap set with SetTagLimit, or 0.
func TagLimit(tag string) int64 {
	if e, ok := tagCounters.Load(tag); ok {
		return e.(*tagEntry).limit.Load()
	}
	return 0
}

// reserveWithin counts n more bytes against c and refuses them when that
// passes limit (0 means no limit).
func reserveWithin(t *totals, n, limit int64) bool {
	live := t.reserve(n)
	if limit > 0 && live > limit {
		t.unreserve(n)
		t.limitHits.Add(1)
		return false
	}
	return true
}

func limitError(what string, k Kind, tag string, n, limit, live int64) error {
	if observing.Load()&observeHistory != 0 {
		observeLimit(k, tag, n)
	}
	return fmt.Errorf("tracker: reserve %d bytes of %s (tag %q): %s limit %d bytes, %d live: %w",
		n, k, tag, what, limit, live, ErrLimit)
}
