package native

import "github.com/membridge/membridge/tracker"

// The kinds of memory package native owns, registered with the ledger when
// the package is initialised. Their names are what reports and metrics
// show.
var (
	// KindCHeap is C heap memory allocated by package native ("c-heap").
	KindCHeap = mustKind(tracker.RegisterKind("c-heap"))
	// KindArenaChunk is a chunk an arena took from the C heap ("arena-chunk").
	KindArenaChunk = mustKind(tracker.RegisterKind("arena-chunk"))
	// KindAdopted is memory a C library allocated and membridge adopted
	// ("adopted").
	KindAdopted = mustKind(tracker.RegisterKind("adopted"))
)

// mustKind panics when the ledger has no room for the kind: a program
// registers few kinds, at initialisation.
func mustKind(k tracker.Kind, err error) tracker.Kind {
	if err != nil {
		panic(err)
	}
	return k
}
