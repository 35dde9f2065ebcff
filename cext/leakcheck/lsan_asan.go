//go:build asan

package leakcheck

// #include <sanitizer/lsan_interface.h>
import "C"

// Enabled reports whether Check asks LeakSanitizer (go test -asan).
const Enabled = true

// sanitizerLeaks runs a recoverable leak check (about 0.2 s) and returns
// non-zero if it found leaks.
func sanitizerLeaks() int { return int(C.__lsan_do_recoverable_leak_check()) }
