// Package alloc compares one allocation and free of membridge's
// native.Buffer, in each tracking mode, with a bare cgo malloc+free pair,
// Go's make([]byte, n), apache/arrow-go's Mallocator and CheckedAllocator,
// and dgraph-io/ristretto's z.Calloc+z.Free, at 64 B, 4 KiB and 1 MiB.
//
// Run it from the bench module (see docs/speed.md):
//
//	go test -run '^$' -bench . -count 6 ./alloc
//
// All benchmarks run with a live Go heap of LiveHeapMiB MiB of pointerful
// objects, so that the garbage each allocator leaves (Go's make leaves all of
// it, membridge a record and a handle per allocation) pays a realistic
// collection cost.
package alloc
