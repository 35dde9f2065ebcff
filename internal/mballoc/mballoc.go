// Package mballoc holds membridge's C heap primitives (mb_alloc.c,
// mb_alloc.h): aligned blocks from the C heap, zeroed or filled with a
// junk pattern on request, poisoned on free, and batched frees. Package
// native allocates its buffers with them and package cuda's host backend
// its emulated device and pinned memory. Importing the package links that
// C into the binary; it has no Go API of its own: callers include
// mb_alloc.h from this directory in their cgo preamble
// (#cgo CFLAGS: -I${SRCDIR}/.../internal/mballoc).
package mballoc

// #cgo CFLAGS: -Wall -Wextra -O2
import "C"
