package cext

import "github.com/membridge/membridge/tracker"

// KindCExtension is the kind of memory C code allocated through
// cext/membridge.h ("c-extension"), registered with the ledger when the
// package is initialised.
var KindCExtension = mustKind(tracker.RegisterKind("c-extension"))

// mustKind panics when the ledger has no room for the kind: a program
// registers few kinds, at initialisation.
func mustKind(k tracker.Kind, err error) tracker.Kind {
	if err != nil {
		panic(err)
	}
	return k
}
