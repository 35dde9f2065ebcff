//go:build asan

package cuda

// Under -asan the allocation counts of TestLaunchAndCopyDoNotAllocate do
// not hold: the sanitizer's build moves some stack values to the heap (go
// build -asan -gcflags=-m: the launch's argument slots among them).
func init() { underASan = true }
