//go:build !linux

package handle_test

import "time"

// threadCPU is not measured here; benchmarks report wall time only.
func threadCPU() (time.Duration, bool) { return 0, false }
