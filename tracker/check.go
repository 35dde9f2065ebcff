//go:build !membridge_invariants

package tracker

import (
	"fmt"
	"os"
	"sync/atomic"
)

// checking is the second switch (the first is the stack rate): whether
// owners check the use of memory at the cost of speed. See Checking.
var checking atomic.Bool

func init() {
	on, err := parseCheck(os.Getenv("MEMBRIDGE_CHECK"))
	if err != nil {
		fmt.Fprintf(os.Stderr, "membridge: %v; not checking\n", err)
	}
	checking.Store(on)
}

// Checking reports whether owners check how memory is used, at a cost in
// speed: they fill fresh memory with junk (0xCD), poison or unmap freed
// memory, free at once what they would batch, quarantine arena chunks and
// trace C allocations one by one. It is the second switch of the ledger,
// independent of the first (how many stacks to keep: MEMBRIDGE_TRACK and
// SetStackRate): a leak hunt with every stack does not change the
// allocator's behaviour. It is on when the environment says
// MEMBRIDGE_CHECK=1, in the test mode (unless MEMBRIDGE_CHECK=0), after
// SetChecking(true), and always in a build with the membridge_invariants
// tag, where it is a constant.
func Checking() bool { return checking.Load() }

// SetChecking turns checking on or off from now on (see Checking) and
// returns the previous setting. Memory allocated before keeps the checks
// it was made with. In a build with the membridge_invariants tag checking
// stays on and SetChecking only returns true.
func SetChecking(on bool) (previous bool) { return checking.Swap(on) }
