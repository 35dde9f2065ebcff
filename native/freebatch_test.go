package native

import (
	"runtime/debug"
	"testing"

	"github.com/membridge/membridge/cext/leakcheck"
	"github.com/membridge/membridge/internal/testkit"
	"github.com/membridge/membridge/tracker"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// queued returns the blocks and bytes waiting in the free queues.
func queued() (blocks, bytes int) {
	for i := range freeQueues {
		q := &freeQueues[i]
		q.Lock()
		blocks += q.n
		bytes += q.bytes
		q.Unlock()
	}
	return blocks, bytes
}

func allocFree(t *testing.T, tag string, n, count int) {
	t.Helper()
	for range count {
		b, err := Alloc(tag, n)
		require.NoError(t, err)
		b.Bytes()[n-1] = 1
		require.NoError(t, b.Free())
	}
}

// Out of the debug mode a small buffer's Free queues its block; a flush
// gives every queued block to malloc (AddressSanitizer checks each free
// under make asan, LeakSanitizer that none is lost).
func TestSmallFreesWaitInAQueue(t *testing.T) {
	defer leakcheck.Check(t)
	defer tracker.SetStackRate(tracker.SetStackRate(0))
	defer tracker.SetChecking(tracker.SetChecking(false))
	defer debug.SetGCPercent(debug.SetGCPercent(-1)) // a collection would flush the queues
	flushFrees()
	allocFree(t, testkit.UniqueTag(t), 64, 5)
	if blocks, bytes := queued(); blocks != 5 || bytes != 5*64 {
		t.Fatalf("%d blocks, %d bytes queued after 5 frees of 64 bytes", blocks, bytes)
	}
	if got := flushFrees(); got != 5*64 {
		t.Fatalf("flush gave back %d bytes, want %d", got, 5*64)
	}
	if blocks, _ := queued(); blocks != 0 {
		t.Fatalf("%d blocks still queued after a flush", blocks)
	}
}

// A queue holds at most freeBatchLen blocks and about freeBatchBytes: a
// Free that reaches either bound frees the whole batch.
func TestFreeQueuesAreBounded(t *testing.T) {
	defer leakcheck.Check(t)
	defer tracker.SetStackRate(tracker.SetStackRate(0))
	defer tracker.SetChecking(tracker.SetChecking(false))
	flushFrees()
	tag := testkit.UniqueTag(t)
	allocFree(t, tag, 16, 3*freeBatchLen*len(freeQueues))
	if blocks, _ := queued(); blocks >= freeBatchLen*len(freeQueues) {
		t.Fatalf("%d blocks queued: the queues never flushed", blocks)
	}
	flushFrees()
	allocFree(t, tag, 24<<10, 40)
	for i := range freeQueues {
		if b := freeQueues[i].bytes; b >= freeBatchBytes {
			t.Fatalf("queue %d holds %d bytes", i, b)
		}
	}
	flushFrees()
}

// The debug mode frees at once (after poisoning); so do the paths that
// are not malloc's small blocks.
func TestDebugModeFreesAtOnce(t *testing.T) {
	defer leakcheck.Check(t)
	defer tracker.SetStackRate(tracker.SetStackRate(1))
	defer tracker.SetChecking(tracker.SetChecking(true))
	flushFrees()
	allocFree(t, testkit.UniqueTag(t), 64, 10)
	tracker.SetStackRate(0)
	allocFree(t, testkit.UniqueTag(t), largeMin, 2) // the large-buffer path
	if blocks, _ := queued(); blocks != 0 {
		t.Fatalf("%d blocks queued", blocks)
	}
}

// A failed allocation's reliefs flush the queues, and so does a garbage
// collection, so an idle program keeps nothing from malloc for long.
func TestReliefAndCollectionFlushTheQueues(t *testing.T) {
	defer leakcheck.Check(t)
	defer tracker.SetStackRate(tracker.SetStackRate(0))
	allocFree(t, testkit.UniqueTag(t), 64, 3)
	tracker.Relieve(tracker.Shortage{Bytes: 1})
	if blocks, _ := queued(); blocks != 0 {
		t.Fatalf("%d blocks queued after Relieve", blocks)
	}
	allocFree(t, testkit.UniqueTag(t), 64, 3)
	testkit.Eventually(t, func(c *assert.CollectT) {
		blocks, _ := queued()
		assert.Zero(c, blocks, "blocks still queued after collections")
		tracker.GC()
	})
}
