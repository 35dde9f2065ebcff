//go:build cuda

// Package fakecuda is the Go side of the stand-in CUDA driver, a test-only
// libcuda.so.1 built from driver/driver.c (see docs/cuda-without-gpu.md) that
// runs the driver API on host memory so cuda-tagged code can be tested on a
// machine with no GPU.
//
// Importing the package registers membridge's C reference kernels
// (csrc/kernels) with the stand-in, so cuLaunchKernel runs them; [Read]
// returns the stand-in's live-object counters, a leak oracle independent of
// membridge's ledger. Everything here finds the stand-in at run time with
// dlsym and links against nothing of it, so a test binary that imports this
// package runs unchanged on NVIDIA's driver: there [Active] is false,
// [Read] reports ok false and kernel registration does nothing.
//
// It is for tests only and only in cuda-tagged builds.
package fakecuda
