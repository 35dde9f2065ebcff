package native

import (
	"sync"
	_ "unsafe" // for go:linkname

	"github.com/membridge/membridge/internal/gctick"
	"github.com/membridge/membridge/tracker"
)

// Free gives a small buffer's memory back to malloc in batches: a cgo call
// costs more than malloc's free itself, so the frees of up to
// freeBatchLen small buffers wait in a per-P queue and go in one call. The
// ledger counts the memory freed at Free, as the owner sees it; malloc gets
// it back at the latest when its queue fills (freeBatchLen blocks or
// freeBatchBytes), when the ledger runs its reliefs (an allocation that
// failed), or after the next garbage collection. The checked mode frees at
// once, after poisoning, so that use-after-free shows at its first moment.
//
// The queues are a global array, not heap memory: C leak checkers
// (LeakSanitizer, valgrind) scan globals, so a block waiting here is still
// reachable to them.
//
// A batch is short: glibc keeps up to 7 freed blocks of a size per thread
// (its tcache) for the next mallocs of that size; longer batches overflow
// it and made the next mallocs slower by more than the call they saved.
const (
	freeBatchLen   = 8
	freeBatchBytes = 64 << 10
)

type freeQueue struct {
	sync.Mutex
	n     int
	bytes int
	addrs [freeBatchLen]uintptr
	_     [40]byte
}

var freeQueues [16]freeQueue

//go:linkname procPin runtime.procPin
func procPin() int

//go:linkname procUnpin runtime.procUnpin
func procUnpin()

// freeSmall frees malloc'd memory of n bytes, batched.
func freeSmall(addr uintptr, n int) {
	pid := procPin()
	procUnpin()
	q := &freeQueues[pid%len(freeQueues)]
	q.Lock()
	q.addrs[q.n] = addr
	q.n++
	q.bytes += n
	if q.n < freeBatchLen && q.bytes < freeBatchBytes {
		q.Unlock()
		return
	}
	var batch [freeBatchLen]uintptr
	k := q.take(&batch)
	q.Unlock()
	cFreeBatch(batch[:k])
}

// take moves the queue's blocks to batch and returns how many. The caller
// holds q's lock.
func (q *freeQueue) take(batch *[freeBatchLen]uintptr) int {
	k := copy(batch[:], q.addrs[:q.n])
	q.n, q.bytes = 0, 0
	return k
}

// flushFrees gives malloc every block waiting in a queue and returns their
// bytes.
func flushFrees() (bytes int64) {
	var batch [freeBatchLen]uintptr
	for i := range freeQueues {
		q := &freeQueues[i]
		q.Lock()
		bytes += int64(q.bytes)
		k := q.take(&batch)
		q.Unlock()
		cFreeBatch(batch[:k])
	}
	return bytes
}

func init() {
	// The blocks are no longer in the ledger: flushing them helps malloc
	// (an allocation that failed retries after the reliefs) but frees no
	// ledger bytes, so it reports none and the other reliefs still run.
	tracker.RegisterRelief("native: batched frees", func(s tracker.Shortage) int64 {
		if s.Cause == tracker.ShortOfMemory {
			flushFrees()
		}
		return 0
	})
	// After every collection too, so that an idle program does not keep a
	// few blocks from malloc for ever.
	gctick.Every(func() { flushFrees() })
}
