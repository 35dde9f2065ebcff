package ownership_test

import (
	"testing"

	"golang.org/x/tools/go/analysis/analysistest"

	"github.com/membridge/membridge/analysis/ownership"
)

// Each check runs over its testdata package, which holds true positives
// (each line marked with the diagnostic it must get) and the true negatives
// that matter (every unmarked line must get none). The packages import stubs
// of membridge's packages from testdata/src/github.com/membridge/membridge,
// which TestStubsMatchTheRealAPI keeps honest.

func TestLeak(t *testing.T) {
	analysistest.Run(t, analysistest.TestData(), ownership.Leak, "leak")
}

func TestLeakSuggestsDeferFree(t *testing.T) {
	analysistest.RunWithSuggestedFixes(t, analysistest.TestData(), ownership.Leak, "leakfix")
}

func TestUseAfterFree(t *testing.T) {
	analysistest.Run(t, analysistest.TestData(), ownership.UseAfterFree, "useafterfree")
}

func TestKeptSlice(t *testing.T) {
	analysistest.Run(t, analysistest.TestData(), ownership.KeptSlice, "keptslice")
}

func TestDoubleFree(t *testing.T) {
	analysistest.Run(t, analysistest.TestData(), ownership.DoubleFree, "doublefree")
}

func TestGoPointer(t *testing.T) {
	analysistest.Run(t, analysistest.TestData(), ownership.GoPointer, "gopointer")
}

func TestDirectives(t *testing.T) {
	analysistest.Run(t, analysistest.TestData(), ownership.Analyzer, "directive")
}

// TestOwnsFacts checks the ownership facts: declared with //membridge:owns,
// inferred from a body that stores the parameter, and inferred through a
// call to a function that owns it; none for a function that only borrows.
func TestOwnsFacts(t *testing.T) {
	analysistest.Run(t, analysistest.TestData(), ownership.Analyzer, "owner")
}
