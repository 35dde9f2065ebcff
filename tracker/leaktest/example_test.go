package leaktest_test

import (
	"testing"

	"github.com/membridge/membridge/tracker/leaktest"
)

// A check deferred in a test runs before the test's parallel subtests
// resume; a check in t.Cleanup runs after all of them, and covers the
// memory of the test and of every subtest that has no check of its own.
// No TestMain is needed: a test binary runs in the test mode from its start.
func ExampleVerifyNone_subtests() {
	testDecode := func(t *testing.T) {
		t.Cleanup(func() { leaktest.VerifyNone(t) })
		for _, name := range []string{"small", "large"} {
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				// ... allocate and free through membridge ...
			})
		}
	}
	_ = testDecode // func TestDecode(t *testing.T) { ... }
}
