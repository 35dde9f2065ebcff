// Package recordof lets membridge's own tests reach the ledger record
// behind an owner's handle, which the public API hands out only as a value
// (tracker.Snapshot): tests of record reuse compare records themselves.
// Owners register how to find a handle's record; nothing else uses it.
package recordof

import (
	"sync"

	"github.com/membridge/membridge/tracker"
)

var finders sync.Map // the handle type's zero *H (any) -> func(any) *tracker.Record

// Register says how to find the record of a handle of type H.
func Register[H any](of func(H) *tracker.Record) {
	var zero H
	finders.Store(any(zero), func(h any) *tracker.Record { return of(h.(H)) })
}

// Of returns the record behind h, or nil when no owner registered H.
func Of[H any](h H) *tracker.Record {
	var zero H
	f, ok := finders.Load(any(zero))
	if !ok {
		return nil
	}
	return f.(func(any) *tracker.Record)(h)
}
