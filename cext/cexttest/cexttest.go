// Package cexttest is fault injection for tests of code that uses C
// extensions through membridge.h (package cext): it makes the extension's
// allocations fail on demand, so a test can check how a service handles a C
// extension running out of memory. It belongs to tests only; production
// code has no reason to import it.
package cexttest

// #cgo CFLAGS: -Wall -Wextra -I${SRCDIR}/..
// #include "mb_bridge.h"
import "C"

import (
	_ "github.com/membridge/membridge/cext" // links membridge.c, which counts the failures
)

// FailNextAllocs makes the next n allocations through membridge.h fail
// (membridge_malloc, calloc and realloc return NULL), whatever the tag and
// thread; FailNextAllocs(0) cancels what is left. While failures are
// pending every C allocation takes the slow path. The count is
// process-wide: tests that use it must not run in parallel with tests that
// allocate through membridge.h.
func FailNextAllocs(n int) { C.mb_bridge_fail_allocs(C.long(n)) }
