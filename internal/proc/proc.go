// Package proc says which P (processor, in the Go scheduler's sense) the
// caller runs on, for state kept per P: the ledger's slots (tracker) and
// the magazines of C blocks (native). The answer may be stale as soon as
// it is returned, since the goroutine may move: per-P state found by it
// must still be locked, and is then merely uncontended in the common case.
package proc

import _ "unsafe" // go:linkname

//go:linkname procPin runtime.procPin
func procPin() int

//go:linkname procUnpin runtime.procUnpin
func procUnpin()

// Current returns the index of the P the caller runs on now, in
// [0, GOMAXPROCS).
func Current() int {
	p := procPin()
	procUnpin()
	return p
}
