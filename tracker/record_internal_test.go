package tracker

import (
	"testing"
	"time"
	"unsafe"

	"github.com/membridge/membridge/internal/testkit"
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
	r, err := Reserve(KindCHeap, -1, t.Name(), 1, 0)
	require.NoError(t, err)
	defer r.Cancel()
	start := time.Now()
	time.Sleep(30 * time.Millisecond) // the age to measure
	age, wall := r.Age(), time.Since(start)
	if age < wall*9/10 || age > wall+time.Second {
		t.Fatalf("Age %v after sleeping %v", age, wall)
	}
}

// After the ledger was idle (the clock's timer stopped), the first record
// reads the clock itself: its age starts near zero, not at the idle time.
// The idle spell is long (idleSpell) and the bound on the age half of it,
// so that a thread preempted for a while on a loaded machine between the
// Reserve and the Age still passes, while a stale clock fails.
func TestAgeAfterIdleStartsNearZero(t *testing.T) {
	const idleSpell = 200 * time.Millisecond
	// No allocation in this package's tests now: the timer stops.
	testkit.Eventually(t, func(c *assert.CollectT) { assert.False(c, clockOn.Load(), "clock timer running") })
	time.Sleep(idleSpell) // the idle spell is what is tested
	r, err := Reserve(KindCHeap, -1, t.Name(), 1, 0)
	require.NoError(t, err)
	defer r.Cancel()
	assert.Less(t, r.Age(), idleSpell/2, "Age right after an idle spell of %v", idleSpell)
}
