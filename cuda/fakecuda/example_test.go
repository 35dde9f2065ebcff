//go:build cuda

package fakecuda_test

import (
	"fmt"

	"github.com/membridge/membridge/cuda/fakecuda"
)

// A test reads the counters before and after its work; what grew in
// between was left alive.
func ExampleGrown() {
	before := fakecuda.Counters{DeviceAllocs: 1, DeviceBytes: 256}
	after := fakecuda.Counters{DeviceAllocs: 2, DeviceBytes: 512, Streams: 1}
	fmt.Println(fakecuda.Grown(before, after))
	fmt.Println(fakecuda.Grown(after, before))
	// Output:
	// fakecuda: the stand-in CUDA driver has left alive: device allocations 1 -> 2, device bytes 256 -> 512, streams 0 -> 1
	// <nil>
}

// After a program has released everything, the stand-in holds nothing; on
// NVIDIA's driver there are no counters to read.
func ExampleRead() {
	c, ok := fakecuda.Read()
	if !ok {
		fmt.Println("not the stand-in driver")
		return
	}
	if err := c.Idle(); err != nil {
		fmt.Println(err)
	}
}

// A test that wants the next allocation to fail: one more succeeds, then
// every allocation fails with CUDA_ERROR_OUT_OF_MEMORY until it is turned
// off.
func ExampleFailAllocAfter() {
	if !fakecuda.FailAllocAfter(1) {
		return // not the stand-in
	}
	defer fakecuda.FailAllocAfter(-1)
	// ... allocate twice and check that the second fails ...
}
