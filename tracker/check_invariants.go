//go:build membridge_invariants

package tracker

import (
	"fmt"
	"os"
)

// The membridge_invariants build tag (as Pebble's invariants tag) makes
// checking a constant: every owner's check is compiled in, and the checks
// cannot be turned off.

func init() {
	if _, err := parseCheck(os.Getenv("MEMBRIDGE_CHECK")); err != nil {
		fmt.Fprintf(os.Stderr, "membridge: %v; checking (membridge_invariants build)\n", err)
	}
}

// Checking reports whether owners check how memory is used: always, in a
// build with the membridge_invariants tag (see the other build's doc).
func Checking() bool { return true }

// SetChecking does nothing in a build with the membridge_invariants tag:
// checking stays on. It returns true.
func SetChecking(on bool) (previous bool) { return true }
