//go:build cuda && !asan

package fakecuda

import (
	"runtime/debug"
	"unsafe"
)

// hostLoadFaults reports whether loading a byte from addr faults. Outside
// AddressSanitizer builds the fault becomes a recoverable panic.
func hostLoadFaults(addr uintptr) (faulted bool) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() { faulted = recover() != nil }()
	p := *(**byte)(unsafe.Pointer(&addr))
	_ = *(*byte)(unsafe.Pointer(p))
	return false
}
