// Package bench holds benchmarks that compare membridge with other native
// memory libraries. It is a module of its own so that membridge itself
// never depends on them: arrow-go and ristretto are required here only.
//
// The foundation's allocation benchmarks are in ./alloc and the arena
// benchmarks in ./arena. The commands: ./cmd/footprint measures the
// resident memory of large buffers against glibc malloc, mmap and Go
// (make footprint), ./cmd/benchtable prints make bench's table and
// ./cmd/figures writes docs/figures from make figures' raw outputs.
package bench
