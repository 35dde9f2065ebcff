package tracker_test

import (
	"strconv"
	"testing"

	"github.com/membridge/membridge/tracker"
)

// The ledger's hot path: one reservation, its commit and its release, with
// a tag limit far above what is live (the limit check runs and passes).
func BenchmarkReserveCommitRelease(b *testing.B) {
	const tag = "bench-reserve"
	tracker.SetTagLimit(tag, 1<<40)
	defer tracker.SetTagLimit(tag, 0)
	b.ReportAllocs()
	for b.Loop() {
		r, err := tracker.AllocateUnwatched(tracker.Request{Kind: kindCHeap, Device: -1, Tag: tag, Bytes: 4096}, nil, nil)
		if err != nil {
			b.Fatal(err)
		}
		r.Retire()
	}
}

// The same from every processor at once, on one tag: the counters are
// contended.
func BenchmarkReserveCommitReleaseParallel(b *testing.B) {
	const tag = "bench-reserve-parallel"
	tracker.SetTagLimit(tag, 1<<40)
	defer tracker.SetTagLimit(tag, 0)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r, err := tracker.AllocateUnwatched(tracker.Request{Kind: kindCHeap, Device: -1, Tag: tag, Bytes: 4096}, nil, nil)
			if err != nil {
				b.Error(err)
				return
			}
			r.Retire()
		}
	})
}

var requestSeq int

// A tag made from data, a new one for each allocation (a request id): the
// ledger meets each tag once, on its slow path.
func BenchmarkReserveTagPerRequest(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		requestSeq++
		r, err := tracker.AllocateUnwatched(tracker.Request{Kind: kindCHeap, Device: -1, Tag: "bench-request-" + strconv.Itoa(requestSeq), Bytes: 4096}, nil, nil)
		if err != nil {
			b.Fatal(err)
		}
		r.Retire()
	}
}
