// Package csrc holds membridge's C: the allocation primitives package native
// calls, the header C extensions include (membridge.h), CPU reference
// kernels and sample extension code. Importing it links that C into the
// binary; it has no Go API of its own.
package csrc

// #cgo CFLAGS: -Wall -Wextra -O2
import "C"
