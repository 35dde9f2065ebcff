package cuda

import (
	"github.com/membridge/membridge/internal/recordof"
	"github.com/membridge/membridge/tracker"
)

// Tests of record reuse compare a buffer's records themselves (the public
// API hands out Snapshot values).
func init() {
	recordof.Register(func(b *DeviceBuffer) *tracker.Record { return b.a.rec })
	recordof.Register(func(p *PinnedBuffer) *tracker.Record { return p.a.rec })
}
