// Package leakcheck gives tests of code that calls C a second leak oracle,
// independent of the membridge ledger: LeakSanitizer. Under go test -asan
// (which sets the asan build tag), Check asks LeakSanitizer for a
// recoverable leak check, so C memory that became unreachable fails the
// test that was running, not just the whole run at exit. Without -asan,
// Enabled is false and Check only runs the ledger's VerifyNone.
//
// Use it at the top of tests that reach C:
//
//	defer leakcheck.Check(t)
package leakcheck

import (
	"github.com/membridge/membridge/tracker/leaktest"
)

// TB is the part of testing.TB that Check needs.
type TB interface {
	Helper()
	Errorf(format string, args ...any)
	Error(args ...any)
}

// Check fails t if the ledger holds memory the test made (leaktest.VerifyNone
// with opts) and, under -asan, if LeakSanitizer finds unreachable C memory
// (its report, with the C stack of each leaked block, goes to stderr).
func Check(t TB, opts ...leaktest.Option) {
	t.Helper()
	leaktest.VerifyNone(t, opts...)
	if Scan() {
		t.Errorf("leakcheck: LeakSanitizer found unreachable C memory after this test (report above, on stderr)")
	}
}

// Scan runs LeakSanitizer's recoverable leak check now (about 0.2 s) and
// reports whether it found unreachable C memory; its report goes to
// stderr. Without -asan it returns false.
func Scan() bool { return sanitizerLeaks() != 0 }
