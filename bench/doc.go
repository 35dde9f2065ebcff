// Package bench holds benchmarks that compare membridge with other native
// memory libraries. It is a module of its own so that membridge itself
// never depends on them: arrow-go and ristretto are required here only.
//
// The foundation's allocation benchmarks are in ./alloc; arena benchmarks
// are in ./arena.
package bench
