package external_test

import (
	"fmt"

	"github.com/membridge/membridge/tracker"
	"github.com/membridge/membridge/tracker/external"
	"github.com/membridge/membridge/tracker/internal/ledgertest"
)

// C code that counts its own memory per tag: the ledger shows it once
// synced (tracker's counters sync before they are read).
func ExampleNew() {
	kind := ledgertest.MustKind("example-outside")
	live := int64(4096)
	x := external.New(kind, func(report func(tag string, c external.Counts)) {
		report("example-c-tag", external.Counts{LiveBytes: live, LiveCount: 1, AllocatedBytes: 4096, AllocatedCount: 1})
	})
	fmt.Println(tracker.TagStats("example-c-tag").LiveBytes)
	live = 0
	x.Sync()
	external.Sync()
	fmt.Println(tracker.KindStats(kind).LiveBytes)
	// Output:
	// 4096
	// 0
}
