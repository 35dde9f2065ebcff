package ownership_test

import (
	"golang.org/x/tools/go/analysis/multichecker"

	"github.com/membridge/membridge/analysis/ownership"
)

// A driver of your own runs the checks beside others, as cmd/membridgevet
// does; each check is an *analysis.Analyzer with its own flag.
func ExampleAnalyzers() {
	multichecker.Main(ownership.Analyzers...)
}

// One check alone, beside other analyzers: the checks require
// ownership.Analyzer, which the driver runs for them.
func ExampleLeak() {
	multichecker.Main(ownership.Leak, ownership.UseAfterFree)
}
