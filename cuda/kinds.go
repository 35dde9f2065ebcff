package cuda

import "github.com/membridge/membridge/tracker"

// The kinds of memory package cuda owns, registered with the ledger when
// the package is initialised, whichever backend is built: a report names
// the same kinds on every build.
var (
	// KindDevice is CUDA device memory ("device").
	KindDevice = mustKind(tracker.RegisterKind("device"))
	// KindDevicePool is CUDA device memory from a stream-ordered pool
	// ("device-pool").
	KindDevicePool = mustKind(tracker.RegisterKind("device-pool"))
	// KindDeviceEmulated is device memory the host backend emulates with C
	// heap memory ("device-emulated").
	KindDeviceEmulated = mustKind(tracker.RegisterKind("device-emulated"))
	// KindPinned is page-locked host memory ("pinned-host").
	KindPinned = mustKind(tracker.RegisterKind("pinned-host"))
)

// mustKind panics when the ledger has no room for the kind: a program
// registers few kinds, at initialisation.
func mustKind(k tracker.Kind, err error) tracker.Kind {
	if err != nil {
		panic(err)
	}
	return k
}
