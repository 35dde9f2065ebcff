//go:build unix

package alloc

import "syscall"

// processCPU returns the CPU time the process has used, user and system,
// in nanoseconds: every thread's, so the collector's background work is
// counted with the allocations that caused it.
func processCPU() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return -1
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
