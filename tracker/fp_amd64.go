package tracker

import "unsafe"

// fpUnwind says whether callers walks frame pointers (amd64) rather than
// calling runtime.Callers.
const fpUnwind = true

// getfp returns the frame pointer of its caller.
func getfp() unsafe.Pointer

// fpCallers fills pcs with the return addresses of the frames above its
// own, walking the frame-pointer chain the way the runtime's execution
// tracer does: each frame record holds the caller's frame pointer, and one
// word above it the return address into the caller. The chain ends at a
// zero frame pointer, which the runtime stores at goroutine entry and at
// cgo callbacks. It costs a few nanoseconds a frame where runtime.Callers
// costs tens, since it does no symbol lookups. The addresses are physical:
// runtime.CallersFrames expands the inlined calls when they are resolved.
//
//go:noinline
func fpCallers(pcs []uintptr) int {
	fp := getfp() // this function's own frame record
	n := 0
	for fp != nil && n < len(pcs) {
		pcs[n] = *(*uintptr)(unsafe.Add(fp, unsafe.Sizeof(uintptr(0))))
		n++
		next := *(*unsafe.Pointer)(fp)
		if uintptr(next) <= uintptr(fp) {
			break // frames only go up the stack; anything else ends the walk
		}
		fp = next
	}
	return n
}
