package tracker_test

import (
	"errors"
	"fmt"

	"github.com/membridge/membridge/tracker"
)

// A limit refuses whatever is over it, however large, with a *LimitError
// that says which limit and by how much.
func ExampleLimitError() {
	tracker.SetTagLimit("example-limited", 1<<20)
	defer tracker.SetTagLimit("example-limited", 0)
	_, err := tracker.AllocateUnwatched(tracker.Request{Kind: kindCHeap, Device: -1, Tag: "example-limited", Bytes: 1 << 62}, nil, nil)
	var le *tracker.LimitError
	if errors.As(err, &le) {
		fmt.Println(errors.Is(err, tracker.ErrLimit), le.ByTag, le.Bytes, le.Limit)
	}
	// Output: true true 4611686018427387904 1048576
}

// A cache registers a relief that is told what is short, and gives back
// only entries that count against it: a budget on another tag leaves it
// alone, a shortage of its own tag evicts.
func ExampleRegisterRelief_limit() {
	held := map[string]int64{"example-results": 4096}
	unregister := tracker.RegisterRelief("example-cache", func(s tracker.Shortage) int64 {
		var freed int64
		for tag, n := range held {
			if s.Counts(kindCHeap, tag) {
				freed += n
				delete(held, tag)
			}
		}
		return freed
	})
	defer unregister()
	requests := tracker.Relieve(tracker.Shortage{Bytes: 1000, Cause: tracker.ShortTagLimit, Kind: kindCHeap, Tag: "example-requests"})
	results := tracker.Relieve(tracker.Shortage{Bytes: 1000, Cause: tracker.ShortTagLimit, Kind: kindCHeap, Tag: "example-results"})
	fmt.Println(requests, results >= 4096, len(held))
	// Output: 0 true 0
}

// A caller passes the refusal's shortage to Relieve before it
// retries, as tracker.Allocate does.
func ExampleShortageOf() {
	tracker.SetTagLimit("example-budget-2", 100)
	defer tracker.SetTagLimit("example-budget-2", 0)
	_, err := tracker.AllocateUnwatched(tracker.Request{Kind: kindCHeap, Device: -1, Tag: "example-budget-2", Bytes: 200}, nil, nil)
	s := tracker.ShortageOf(err, 200)
	fmt.Println(s.Cause == tracker.ShortTagLimit, s.Tag, s.Bytes)
	// Output: true example-budget-2 200
}
