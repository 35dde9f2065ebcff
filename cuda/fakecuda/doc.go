//go:build cuda

// Package fakecuda is the Go side of the stand-in CUDA driver, a test-only
// libcuda.so.1 built from driver/driver.c (see docs/cuda-without-gpu.md) that
// runs the driver API on host memory so cuda-tagged code can be tested on a
// machine with no GPU. It is public so that modules using membridge can run
// their own cuda-tagged tests the way membridge's CI does: command fakecuda
// (cmd/fakecuda) builds the library and prints the environment go test
// needs, and a cuda-tagged test file imports this package.
//
// Importing the package registers membridge's C reference kernels
// (cuda/internal/refkernels) with the stand-in, so cuLaunchKernel runs
// them; a cuda-tagged test binary that launches membridge's built-in
// kernels on the stand-in must import it (a blank import will do). [Read]
// returns the stand-in's live-object counters, a leak oracle independent
// of membridge's ledger; [Require] skips a test, or fails it under
// MEMBRIDGE_FAKECUDA=1, when the stand-in is not loaded; [FailAllocAfter]
// makes device and pinned allocations fail; [DelayStreamWork] makes device
// writes queued on streams land late, and counts races with them.
// Everything here finds the
// stand-in at run time with dlsym and links against nothing of it, so a
// test binary that imports this package runs unchanged on NVIDIA's driver:
// there [Active] is false, [Read] reports ok false and kernel registration
// does nothing.
//
// It is for tests only and only in cuda-tagged builds.
package fakecuda
