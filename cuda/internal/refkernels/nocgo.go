//go:build !cgo

package refkernels

// This package is built with cgo. A build without it (CGO_ENABLED=0, or no
// C compiler found) stops on the name below, which says what to do, rather
// than on the first C helper it lacks.
var _ = membridge_needs_cgo__set_CGO_ENABLED_1_and_install_a_C_compiler_such_as_gcc
