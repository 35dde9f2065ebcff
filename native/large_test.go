package native

import (
	"errors"
	"testing"
	"unsafe"

	"github.com/membridge/membridge/cext/leakcheck"
	"github.com/membridge/membridge/internal/testkit"
	"github.com/membridge/membridge/tracker"
	"github.com/membridge/membridge/tracker/stacks"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLargeBuffersReusePages(t *testing.T) {
	// The debug mode unmaps freed large buffers (TestLargeBuffersUnmapInDebugMode);
	// reuse is the other modes' behaviour.
	defer tracker.SetStackRate(tracker.SetStackRate(stacks.DefaultSampleRate))
	defer tracker.SetChecking(tracker.SetChecking(false))
	defer leakcheck.Check(t)
	const n = 1 << 20
	before := LargeBufferStats()
	var bufs []*Buffer
	for range 8 {
		b, err := Alloc(t.Name(), n)
		require.NoError(t, err)
		require.EqualValues(t, 0, uintptr(b.Ptr())%4096, "large buffer at %p is not page-aligned", b.Ptr())
		b.Bytes()[n-1] = 1
		bufs = append(bufs, b)
	}
	mid := LargeBufferStats()
	if mid.LiveBytes-before.LiveBytes != 8*n {
		t.Fatalf("live large bytes grew by %d, want %d", mid.LiveBytes-before.LiveBytes, 8*n)
	}
	for _, b := range bufs {
		b.Free()
	}
	// Freed pages are kept (up to the bound) and handed out again.
	b, err := AllocZeroed(t.Name(), n)
	require.NoError(t, err)
	defer b.Free()
	after := LargeBufferStats()
	if after.Reuses == mid.Reuses {
		t.Errorf("no reuse: %+v -> %+v", mid, after)
	}
	for i, c := range b.Bytes() {
		require.EqualValues(t, 0, c, "AllocZeroed on reused pages: byte %d is %d", i, c)
	}
	if after.KeptBytes > max(after.LiveBytes/16, 4<<20) {
		t.Errorf("kept %d bytes for %d live: over the bound", after.KeptBytes, after.LiveBytes)
	}
	if TrimLargeBuffers(); LargeBufferStats().KeptBytes != 0 {
		t.Error("TrimLargeBuffers kept pages")
	}
}

func TestLargeBufferHandToCCopiesToMalloc(t *testing.T) {
	defer leakcheck.Check(t)
	b, err := Alloc(t.Name(), 1<<20)
	require.NoError(t, err)
	copy(b.Bytes(), "handed")
	p, err := b.HandToC()
	require.NoError(t, err)
	require.EqualValues(t, "handed", string(unsafe.Slice((*byte)(p), 6)), "HandToC lost the contents")
	// C now owns malloc'd memory: free it as C would.
	FreeDeleter().d.delete(p)
	require.True(t, errors.Is(b.Err(), ErrMoved), "after HandToC: %v", b.Err())
}

// (The debug mode quarantines such a buffer instead, to name it if a kept
// slice is used: TestDroppedBufferKeptSliceFaults.)
func TestLargeBufferDroppedIsReclaimed(t *testing.T) {
	defer leakcheck.Check(t)
	defer tracker.SetStackRate(tracker.SetStackRate(stacks.DefaultSampleRate))
	defer tracker.SetChecking(tracker.SetChecking(false))
	defer tracker.SetLeakPolicy(tracker.SetLeakPolicy(tracker.LeakFree))
	tracker.SetLeakHandler(func(*tracker.Record) {}) // the drop is planted: no warning
	defer tracker.SetLeakHandler(nil)
	before := LargeBufferStats().LiveBytes
	func() {
		//membridge:ignore leak the test drops a large buffer on purpose and checks that the safety net frees it
		_, err := Alloc(t.Name(), 1<<20)
		require.NoError(t, err)
	}()
	// Relieve skips a collection within 10 ms of a fruitless one: the
	// wait polls until one runs and finds the buffer.
	testkit.Eventually(t, func(c *assert.CollectT) {
		tracker.Relieve(tracker.Shortage{Bytes: 0})
		assert.Equal(c, before, LargeBufferStats().LiveBytes, "large buffer bytes live")
	}, "a dropped large buffer was not reclaimed")
}

func TestLargeBuffersUnmapInDebugMode(t *testing.T) {
	defer tracker.SetStackRate(tracker.SetStackRate(1))
	defer tracker.SetChecking(tracker.SetChecking(true))
	TrimLargeBuffers() // pages kept by earlier tests would serve the allocation
	before := LargeBufferStats()
	b, err := Alloc(testkit.UniqueTag(t), 1<<20)
	require.NoError(t, err)
	b.Bytes()[0] = 1
	b.Free()
	after := LargeBufferStats()
	if after.Unmaps != before.Unmaps+1 || after.KeptBytes != before.KeptBytes {
		t.Fatalf("a freed large buffer in the debug mode was kept: %+v -> %+v", before, after)
	}
}
