package tracker_test

import (
	"sync/atomic"

	"github.com/membridge/membridge/tracker"
)

// fakeOwner plays the part packages native and cuda play: it reserves,
// commits, watches and releases records for handles of its own, with Go
// memory standing in for native memory.
type fakeOwner struct {
	reclaimed atomic.Int64 // bytes the safety net gave back
}

type handle struct {
	rec *tracker.Record
	mem []byte
}

func (o *fakeOwner) alloc(tag string, n int) (*handle, error) {
	rec, err := tracker.Reserve(kindCHeap, -1, tag, int64(n), 1)
	if err != nil {
		return nil, err
	}
	h := &handle{rec: rec, mem: make([]byte, n)}
	rec.Commit(0x1000, tracker.ReclaimFunc(func(r *tracker.Record) { o.reclaimed.Add(r.Bytes()) }))
	tracker.Watch(h, rec)
	return h, nil
}

func (h *handle) free() bool { return h.rec.Release() }
