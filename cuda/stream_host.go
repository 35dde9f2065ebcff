//go:build !cuda

package cuda

import "sync/atomic"

// Emulated streams and events: work runs when it is queued, so a stream is
// always idle and an event complete once recorded. Handles are counters,
// never 0 (0 is the default stream).

var emulatedHandles atomic.Uintptr

func newHandle() uintptr { return emulatedHandles.Add(1) }

func drvStreamCreate(uintptr) (uintptr, error)           { return newHandle(), nil }
func drvStreamDestroy(uintptr, uintptr) error            { return nil }
func drvStreamSync(uintptr, uintptr) error               { return nil }
func drvStreamWaitEvent(uintptr, uintptr, uintptr) error { return nil }
func drvEventCreate(uintptr) (uintptr, error)            { return newHandle(), nil }
func drvEventRecord(uintptr, uintptr, uintptr) error     { return nil }
func drvEventSync(uintptr, uintptr) error                { return nil }
func drvEventQuery(uintptr, uintptr) (bool, error)       { return true, nil }
func drvEventDestroy(uintptr, uintptr) error             { return nil }
