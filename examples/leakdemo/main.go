// Command leakdemo shows a native-memory leak found by membridge: a decoder
// that forgets to free a C scratch buffer per frame. It prints the ledger's
// counters and the leak report grouped by allocation site.
//
//	go run ./examples/leakdemo
//
// Its test (go test ./examples/leakdemo) shows the same leak caught by the
// test mode; MEMBRIDGE_LEAKDEMO=1 makes the leaking test really fail.
package main

import (
	"fmt"
	"os"
	"time"

	"github.com/membridge/membridge/tracker"
	"github.com/membridge/membridge/tracker/leaktest"
)

func main() {
	tracker.SetStackRate(1)                 // keep every allocation stack
	tracker.SetLeakPolicy(tracker.LeakFree) // reclaim dropped handles, report them
	frames := [][]byte{frame("hello, "), frame("native "), frame("world")}
	for range 3 {
		out, err := decodeFrames(frames)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Printf("decoded %q\n", out.Bytes())
		out.Free()
	}
	s := tracker.TagStats("scratch")
	fmt.Printf("scratch buffers: %d allocated, %d freed, %d live (%d bytes)\n",
		s.AllocatedCount, s.FreedCount, s.LiveCount, s.LiveBytes)

	// What a test or an operator sees: the live memory, grouped by site.
	if err := leaktest.Find(leaktest.MaxWait(0)); err != nil {
		fmt.Println(err)
	}

	// The scratch handles are unreachable now: the safety net finds them
	// at the next collection (tracker.GC arms it first), reclaims them and logs each site once.
	for tracker.TagStats("scratch").LiveCount > 0 {
		tracker.GC()
		time.Sleep(time.Millisecond)
	}
	s = tracker.TagStats("scratch")
	fmt.Printf("after GC: %d dropped without Free and reclaimed by the safety net, %d live\n",
		s.DroppedCount, s.LiveCount)
}
