package handle_test

import (
	"syscall"
	"time"
)

// threadCPU returns the CPU time the calling OS thread has used. On a
// shared machine it varies far less than wall time: time spent waiting
// for a CPU is not in it.
func threadCPU() (time.Duration, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(1 /* RUSAGE_THREAD */, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
