package native

import (
	"github.com/membridge/membridge/internal/recordof"
	"github.com/membridge/membridge/tracker"
)

// Tests of record reuse compare a buffer's records themselves (the public
// API hands out Snapshot values).
func init() {
	recordof.Register(func(b *Buffer) *tracker.Record { return b.rec })
}
