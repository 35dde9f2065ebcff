package tracker

import (
	"fmt"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// One record is made per allocation: its size class is part of the cost of
// an Alloc+Free pair (bench/alloc), so a field added carelessly shows here.
func TestRecordFitsItsSizeClass(t *testing.T) {
	if n := unsafe.Sizeof(Record{}); n > 96 {
		t.Fatalf("Record is %d bytes; it must stay within the 96-byte size class", n)
	}
}

// Age is counted in CPU ticks and converted at the measured rate: it must
// agree with the wall clock.
func TestAgeCountsFromReserve(t *testing.T) {
	r, err := AllocateUnwatched(Request{Kind: kindCHeap, Device: -1, Tag: t.Name(), Bytes: 1}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Release()
	start := time.Now()
	time.Sleep(30 * time.Millisecond)
	age, wall := r.Age(), time.Since(start)
	if age < wall*9/10 || age > wall+time.Second {
		t.Fatalf("Age %v after sleeping %v", age, wall)
	}
}

// After the ledger was idle (the clock's timer stopped), the first record
// reads the clock itself: its age starts near zero, not at the idle time.
func TestAgeAfterIdleStartsNearZero(t *testing.T) {
	time.Sleep(20 * clockTick) // no allocation in this package's tests now: the timer stops
	r, err := AllocateUnwatched(Request{Kind: kindCHeap, Device: -1, Tag: t.Name(), Bytes: 1}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Release()
	if age := r.Age(); age > 10*clockTick {
		t.Fatalf("Age %v right after an idle spell", age)
	}
}

// A record is committed or cancelled once, from reserved: the ledger stops
// anything else with a membridge: panic naming the record, and does not
// move the counters twice.
func TestCommitOrCancelOutOfTurnPanics(t *testing.T) {
	tag := t.Name()
	r, err := reserve(kindCHeap, -1, tag, 10, nil)
	require.NoError(t, err)
	r.commit(0x1000, nil)
	want := fmt.Sprintf("membridge: tracker: Commit of a record that is not reserved (10 bytes of c-heap, tag %q): committed, cancelled or released already", tag)
	assert.PanicsWithValue(t, want, func() { r.commit(0x1000, nil) })
	assert.PanicsWithValue(t, strings.Replace(want, "Commit", "Cancel", 1), r.cancel)
	assert.Equal(t, int64(10), TagStats(tag).LiveBytes)
	require.True(t, r.Release())

	c, err := reserve(kindCHeap, -1, tag, 5, nil)
	require.NoError(t, err)
	c.cancel()
	assert.Panics(t, c.cancel)
	assert.Panics(t, func() { c.commit(0x2000, nil) })
	s := TagStats(tag)
	assert.Zero(t, s.LiveBytes)
	assert.Zero(t, s.LiveCount)
}
