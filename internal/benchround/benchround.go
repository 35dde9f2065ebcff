// Package benchround runs a benchmark's cases in rounds within one
// process: every case once, then again, the order reversed every other
// round. Load from other work on the machine then falls on every case
// alike, each round's cases are measured moments apart, and no case always
// runs first (warm caches, a collection left by the case before). make
// figures divides one case by another within each round and reports the
// spread of those ratios.
//
// Without -rounds (or with -rounds 0) the cases run once each, in order,
// under their own names, as before; with -rounds N each name gains
// /round=R.
package benchround

import (
	"flag"
	"fmt"
	"testing"
)

var rounds = flag.Int("rounds", 0, "run every case this many times, interleaved, the order reversed every other round (0: once, in order)")

// Case is one named sub-benchmark.
type Case struct {
	Name string
	Run  func(b *testing.B)
}

// Run runs cases as sub-benchmarks of b, in rounds when -rounds is set.
func Run(b *testing.B, cases []Case) {
	if *rounds <= 0 {
		for _, c := range cases {
			b.Run(c.Name, c.Run)
		}
		return
	}
	for r := range *rounds {
		for i := range cases {
			c := cases[i]
			if r%2 == 1 {
				c = cases[len(cases)-1-i]
			}
			b.Run(fmt.Sprintf("%s/round=%d", c.Name, r), c.Run)
		}
	}
}
