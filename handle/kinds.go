package handle

import "github.com/membridge/membridge/tracker"

// KindHandle is the kind of a handle that lets C refer to a Go value
// ("go-handle"), registered with the ledger when the package is
// initialised.
var KindHandle = mustKind(tracker.RegisterKind("go-handle"))

// mustKind panics when the ledger has no room for the kind: a program
// registers few kinds, at initialisation.
func mustKind(k tracker.Kind, err error) tracker.Kind {
	if err != nil {
		panic(err)
	}
	return k
}
