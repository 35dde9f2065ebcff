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
// The checks above keep every read within 1 MiB above a frame of this
// goroutine's stack, so checkptr's pointer-arithmetic check (on under -race
// and -asan) is off for this function.
//
//go:noinline
//go:nocheckptr
func fpCallers(pcs []uintptr) int {
	fp := getfp() // this function's own frame record
	n := 0
	for fp != nil && n < len(pcs) {
		pcs[n] = *(*uintptr)(unsafe.Add(fp, unsafe.Sizeof(uintptr(0))))
		n++
		next := *(*unsafe.Pointer)(fp)
		// Frames only go up the goroutine's stack, and never far: at a cgo
		// callback the chain continues into the C thread's stack, where the
		// saved frame pointer may be anything. Such a walk ends short of
		// the goroutine's start, and callers then asks runtime.Callers.
		if uintptr(next) <= uintptr(fp) || uintptr(next)-uintptr(fp) > 1<<20 {
			break
		}
		fp = next
	}
	return n
}
