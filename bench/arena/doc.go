// Package arena compares membridge's Arena with the alternatives for small,
// short-lived allocations, side by side in one benchmark run: a bare bump
// pointer over one C slab (the floor), a cgo malloc+free pair, ristretto
// v2's z.Allocator, and Go's new with a live heap, so that the garbage
// collector's cost is counted.
//
//	cd bench && go test -run '^$' -bench . -count 6 ./arena | tee arena.txt
//	go run golang.org/x/perf/cmd/benchstat@latest -col /impl arena.txt
package arena
