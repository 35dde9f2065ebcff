//go:build cuda

package fakecuda

/*
#cgo CFLAGS: -Wall -Wextra -O2
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stdint.h>
#include "driver/standin.h"

static void *lookup(const char *name) { return dlsym(RTLD_DEFAULT, name); }

static int read_counters(struct mbfake_counters *out) {
	mbfake_read_counters_fn fn = (mbfake_read_counters_fn)lookup(MBFAKE_READ_COUNTERS);
	if (fn == NULL)
		return 0;
	return fn(out, sizeof *out) == sizeof *out;
}

static int delay_stream_work(int64_t ns) {
	mbfake_delay_stream_work_fn fn = (mbfake_delay_stream_work_fn)lookup(MBFAKE_DELAY_STREAM_WORK);
	if (fn == NULL)
		return 0;
	fn(ns);
	return 1;
}

static int fail_alloc_after(int64_t n) {
	mbfake_fail_alloc_after_fn fn = (mbfake_fail_alloc_after_fn)lookup(MBFAKE_FAIL_ALLOC_AFTER);
	if (fn == NULL)
		return 0;
	fn(n);
	return 1;
}
*/
import "C"

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// DevicePointerBase is where the stand-in's device addresses start: device
// d's allocations lie in [DevicePointerBase + d*DevicePointerSpan,
// DevicePointerBase + (d+1)*DevicePointerSpan). These are non-canonical
// x86-64 addresses, so any host load or store through one faults.
const (
	DevicePointerBase uint64 = C.MBFAKE_DEVPTR_BASE
	DevicePointerSpan uint64 = C.MBFAKE_DEVPTR_SPAN
)

// Counters are what the stand-in driver holds alive right now, plus totals.
type Counters struct {
	DeviceAllocs     int64 // live cuMemAlloc and cuMemAllocAsync allocations
	DeviceBytes      int64 // bytes they hold
	HostAllocs       int64 // live cuMemAllocHost (pinned) allocations
	HostBytes        int64 // bytes they hold
	PrimaryRetains   int64 // primary-context retains not yet released
	ActiveContexts   int64 // primary contexts active
	Streams          int64 // live streams
	Events           int64 // live events
	Modules          int64 // loaded modules
	ReclaimedAtReset int64 // objects freed by the driver because their context was destroyed under them: leaks
	TotalDeviceAlloc int64 // device allocations ever made
	Launches         int64 // kernel launches run
	DelayedWork      int64 // copies and memsets queued under a stream delay (DelayStreamWork)
	StreamHazards    int64 // work that touched device memory another stream's pending work uses: races a GPU would lose
}

// Active reports whether the process runs on the stand-in driver.
func Active() bool {
	_, ok := Read()
	return ok
}

// Required is the environment setting (MEMBRIDGE_FAKECUDA=1, set by make
// cuda-test) under which a test process that does not run on the stand-in
// fails instead of skipping the stand-in's checks.
const Required = "MEMBRIDGE_FAKECUDA"

// errNotStandin is why a run that requires the stand-in cannot go on.
var errNotStandin = errors.New("fakecuda: " + Required + "=1 but libcuda.so.1 is not the stand-in: check LD_LIBRARY_PATH")

// Require skips t unless the process runs on the stand-in, and fails it
// instead when Required is set.
func Require(t testing.TB) {
	t.Helper()
	if Active() {
		return
	}
	if os.Getenv(Required) == "1" {
		t.Fatal(errNotStandin)
	}
	t.Skip("not running on the stand-in driver")
}

// HoldsNothing is the check a cuda-tagged test binary runs at its end,
// after closing its contexts: nil when the stand-in holds nothing (Idle),
// or when the process runs on another driver and Required is not set.
func HoldsNothing() error {
	c, ok := Read()
	if !ok {
		if os.Getenv(Required) == "1" {
			return errNotStandin
		}
		return nil
	}
	return c.Idle()
}

// Read returns the stand-in's counters. ok is false when the process runs
// on another driver (or none), which has no such counters.
func Read() (c Counters, ok bool) {
	var cc C.struct_mbfake_counters
	if C.read_counters(&cc) == 0 {
		return Counters{}, false
	}
	return Counters{
		DeviceAllocs:     int64(cc.device_allocs),
		DeviceBytes:      int64(cc.device_bytes),
		HostAllocs:       int64(cc.host_allocs),
		HostBytes:        int64(cc.host_bytes),
		PrimaryRetains:   int64(cc.primary_retains),
		ActiveContexts:   int64(cc.active_contexts),
		Streams:          int64(cc.streams),
		Events:           int64(cc.events),
		Modules:          int64(cc.modules),
		ReclaimedAtReset: int64(cc.reclaimed_at_reset),
		TotalDeviceAlloc: int64(cc.total_device_allocs),
		Launches:         int64(cc.launches),
		DelayedWork:      int64(cc.delayed_work),
		StreamHazards:    int64(cc.stream_hazards),
	}, true
}

// live lists the counters that count objects alive now, by name.
func (c Counters) live() []struct {
	name string
	n    int64
} {
	return []struct {
		name string
		n    int64
	}{
		{"device allocations", c.DeviceAllocs},
		{"device bytes", c.DeviceBytes},
		{"pinned host allocations", c.HostAllocs},
		{"pinned host bytes", c.HostBytes},
		{"primary-context retains", c.PrimaryRetains},
		{"active contexts", c.ActiveContexts},
		{"streams", c.Streams},
		{"events", c.Events},
		{"modules", c.Modules},
	}
}

// Idle returns an error naming every live count that is not zero and any
// object the driver had to reclaim from a destroyed context; nil when the
// driver holds nothing, as after a program that released everything.
func (c Counters) Idle() error {
	return Grown(Counters{}, c)
}

// Grown returns an error naming every live count that is higher in after
// than in before, and any objects reclaimed from destroyed contexts in
// between; nil when after holds nothing before did not. Tests take before
// at their start and after at their end: what grew was left behind.
func Grown(before, after Counters) error {
	var grew []string
	b, a := before.live(), after.live()
	for i := range a {
		if a[i].n > b[i].n {
			grew = append(grew, fmt.Sprintf("%s %d -> %d", a[i].name, b[i].n, a[i].n))
		}
	}
	if d := after.ReclaimedAtReset - before.ReclaimedAtReset; d > 0 {
		grew = append(grew, fmt.Sprintf("objects still alive when their context was destroyed: %d", d))
	}
	if len(grew) == 0 {
		return nil
	}
	return fmt.Errorf("fakecuda: the stand-in CUDA driver has left alive: %s", strings.Join(grew, ", "))
}

// FailAllocAfter lets n more allocations (device, stream-ordered or pinned)
// succeed and fails every later one with CUDA_ERROR_OUT_OF_MEMORY; n < 0
// turns fault injection off. It reports false, doing nothing, on another
// driver.
func FailAllocAfter(n int64) bool {
	return C.fail_alloc_after(C.int64_t(n)) != 0
}

// DelayStreamWork makes copies and memsets into device memory queued on a
// created stream from now on run only d after they were queued, or when
// something waits for them (a synchronisation, an event wait, a free, work
// on the legacy default stream); events recorded after them report not
// ready until then. Work that touches memory another stream's pending work
// uses is counted in Counters.StreamHazards. d <= 0 turns the delay off
// (work already queued keeps its time). So a test can show that memory is
// handed from one stream to another only after the first stream's work.
// It reports false, doing nothing, on another driver. The environment
// variable MEMBRIDGE_FAKECUDA_STREAM_DELAY_NS sets a delay at cuInit.
func DelayStreamWork(d time.Duration) bool {
	return C.delay_stream_work(C.int64_t(max(d, 0))) != 0
}
