package tracker_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/membridge/membridge/tracker"
)

// Pages an allocator keeps for reuse are given back when the allocator runs
// out of memory (Relieve); a limit's refusal does not run this relief.
func ExampleRegisterRelief() {
	held := int64(4096)
	unregister := tracker.RegisterRelief("example-kept-pages", func(s tracker.Shortage) int64 {
		if s.Cause != tracker.ShortOfMemory {
			return 0 // kept pages count against no limit
		}
		freed := min(held, max(s.Bytes, 0))
		held -= freed
		return freed
	})
	defer unregister()
	fmt.Println(tracker.Relieve(tracker.Shortage{Bytes: 1000}), held)
	// Output: 1000 3096
}

// Back-pressure: a reservation over a limit waits for memory to be released
// until its context ends.
func ExampleReserveContext() {
	tracker.SetTagLimit("example-budget", 300)
	held, _ := tracker.Reserve(kindCHeap, -1, "example-budget", 200, 0)
	held.Commit(0x1000, nil)
	defer held.Release()
	defer tracker.SetTagLimit("example-budget", 0)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	_, err := tracker.ReserveContext(ctx, kindCHeap, -1, "example-budget", 200, 0)
	fmt.Println(errors.Is(err, tracker.ErrLimit), errors.Is(err, context.DeadlineExceeded))
	// Output: true true
}

func ExamplePressure() {
	before := tracker.Pressure()
	tracker.CountRetry(true)
	after := tracker.Pressure()
	fmt.Println(after.Retries-before.Retries, after.RetrySuccesses-before.RetrySuccesses)
	// Output: 1 1
}
