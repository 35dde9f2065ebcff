package tracker_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/membridge/membridge/native"
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

// Back-pressure: an allocation over a limit, given a Context, waits for
// memory to be released until the context ends.
func ExampleRequest_backPressure() {
	tracker.SetTagLimit("example-budget", 300)
	held, _ := tracker.AllocateUnwatched(tracker.Request{Kind: kindCHeap, Device: -1, Tag: "example-budget", Bytes: 200, Addr: 0x1000}, nil, nil)
	defer held.Release()
	defer tracker.SetTagLimit("example-budget", 0)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	_, err := tracker.AllocateUnwatched(tracker.Request{Kind: kindCHeap, Device: -1, Tag: "example-budget", Bytes: 200, Context: ctx}, func() (uintptr, error) { return 0, nil }, nil)
	fmt.Println(errors.Is(err, tracker.ErrLimit), errors.Is(err, context.DeadlineExceeded))
	// Output: true true
}

func ExamplePressure() {
	before := tracker.Pressure()
	tries := 0
	rec, _ := tracker.AllocateUnwatched(tracker.Request{Kind: native.KindCHeap, Device: -1, Tag: "example-pressure", Bytes: 64},
		func() (uintptr, error) {
			if tries++; tries == 1 {
				return 0, tracker.ErrOutOfMemory // Allocate relieves and retries once
			}
			return 0x1000, nil
		}, nil)
	rec.Release()
	after := tracker.Pressure()
	fmt.Println(after.Retries-before.Retries, after.RetrySuccesses-before.RetrySuccesses)
	// Output: 1 1
}
