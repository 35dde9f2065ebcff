package tracker

import (
	"testing"
	"time"
	"unsafe"
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
	r, err := Reserve(kindCHeap, -1, t.Name(), 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Cancel()
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
	r, err := Reserve(kindCHeap, -1, t.Name(), 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Cancel()
	if age := r.Age(); age > 10*clockTick {
		t.Fatalf("Age %v right after an idle spell", age)
	}
}
