package tracker_test

import (
	"fmt"
	"sync/atomic"

	"github.com/membridge/membridge/tracker"
)

var exampleRun atomic.Int64

// A program that tags memory by user keeps only as many tags as the cap
// allows; the memory of the others is counted under OverflowTag.
func ExampleSetMaxTags() {
	// Room for two more tags than the ledger keeps now.
	defer tracker.SetMaxTags(tracker.SetMaxTags(tracker.TagsKept() + 2))
	overflowed := tracker.TagsOverflowed()
	run := exampleRun.Add(1)
	for _, user := range []string{"ann", "bob", "cid", "dee"} {
		r, err := tracker.AllocateUnwatched(tracker.Request{Kind: kindCHeap, Device: -1, Tag: fmt.Sprintf("user-%s-%d", user, run), Bytes: 100}, nil, nil)
		if err != nil {
			panic(err)
		}
		defer r.Release()
		if r.Tag() == tracker.OverflowTag {
			fmt.Println(user, "counted under", tracker.OverflowTag)
		} else {
			fmt.Println(user, "counted under its own tag")
		}
	}
	fmt.Println("tags overflowed:", tracker.TagsOverflowed()-overflowed)
	// Output:
	// ann counted under its own tag
	// bob counted under its own tag
	// cid counted under (overflow)
	// dee counted under (overflow)
	// tags overflowed: 2
}
