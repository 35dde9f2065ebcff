//go:build cuda

package memprofile_test

// The profile's tests allocate device memory through package cuda; linking
// package fakecuda lets their cuda-tagged build run on the stand-in driver
// (make cuda-test); on NVIDIA's driver it does nothing.
import _ "github.com/membridge/membridge/cuda/fakecuda"
