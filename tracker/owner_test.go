package tracker_test

import (
	"sync/atomic"

	"github.com/membridge/membridge/tracker"
)

// fakeOwner plays the part packages native and cuda play: it allocates
// through the owner protocol and releases records for handles of its own, with Go
// memory standing in for native memory.
type fakeOwner struct {
	reclaimed atomic.Int64 // bytes the safety net gave back
}

type handle struct {
	rec *tracker.Record
	mem []byte
}

func (o *fakeOwner) alloc(tag string, n int) (*handle, error) {
	h := &handle{}
	rec, err := tracker.Allocate(h, tracker.Request{Kind: tracker.KindCHeap, Device: -1, Tag: tag, Bytes: int64(n)}, func() (uintptr, error) {
		h.mem = make([]byte, n)
		return 0x1000, nil
	}, tracker.ReclaimFunc(func(r *tracker.Record) { o.reclaimed.Add(r.Bytes()) }))
	if err != nil {
		return nil, err
	}
	h.rec = rec
	return h, nil
}

func (h *handle) free() bool { return h.rec.Release() }
