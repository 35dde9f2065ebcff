//go:build cuda && !asan

package fakecuda

import (
	"runtime/debug"
	"unsafe"
)

// HostLoadFaults reports whether loading one byte from addr on the host
// faults, as it must for every device pointer the stand-in hands out. The
// fault becomes a recovered panic (debug.SetPanicOnFault); under
// AddressSanitizer the load runs in a child process instead.
func HostLoadFaults(addr uintptr) (faulted bool) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() { faulted = recover() != nil }()
	p := *(**byte)(unsafe.Pointer(&addr))
	_ = *(*byte)(unsafe.Pointer(p))
	return false
}
