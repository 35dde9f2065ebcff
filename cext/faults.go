package cext

// FailNextAllocs makes the next n allocations through membridge.h fail
// (membridge_malloc, calloc and realloc return NULL), whatever the tag and
// thread; FailNextAllocs(0) cancels what is left. It is fault injection for
// tests of how a service handles a C extension running out of memory.
// While failures are pending every C allocation takes the slow path.
func FailNextAllocs(n int) { cFailAllocs(n) }
