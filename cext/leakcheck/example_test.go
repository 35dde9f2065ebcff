package leakcheck_test

import (
	"fmt"
	"testing"

	"github.com/membridge/membridge/cext/leakcheck"
)

func ExampleCheck() {
	// At the top of a test that reaches C:
	test := func(t *testing.T) {
		defer leakcheck.Check(t)
		// ... call C ...
	}
	_ = test
	fmt.Println("LeakSanitizer on:", leakcheck.Enabled)
}

func ExampleScan() {
	fmt.Println(leakcheck.Scan()) // false without -asan, or when nothing leaked
	// Output: false
}
