//go:build asan

package leakcheck

// #include <sanitizer/lsan_interface.h>
//
// // glibc's pthread_getattr_np, which AddressSanitizer calls as each new
// // thread starts, loses a small cpuset allocation when the thread's
// // affinity is read (nptl/pthread_getattr_np.c). The Go runtime starts
// // threads at any time, so a leak check mid-run can catch one: that is
// // glibc's leak, not the test's. LeakSanitizer asks the program for its
// // suppressions through this hook.
// const char *__lsan_default_suppressions(void) {
// 	return "leak:__pthread_getattr_np\n"
// 	       "leak:pthread_attr_setaffinity\n";
// }
import "C"

// Enabled reports whether Check asks LeakSanitizer (go test -asan).
const Enabled = true

// sanitizerLeaks runs a recoverable leak check (about 0.2 s) and returns
// non-zero if it found leaks.
func sanitizerLeaks() int { return int(C.__lsan_do_recoverable_leak_check()) }
