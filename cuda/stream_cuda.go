//go:build cuda

package cuda

// As for the allocation helpers (memory_cuda.go): results through a
// pointer, kept by no one, and no callbacks into Go.

// #cgo noescape mbc_event_create
// #cgo nocallback mbc_event_create
// #cgo noescape mbc_event_query
// #cgo nocallback mbc_event_query
// #include "mbcuda.h"
import "C"

func drvStreamCreate(ctx uintptr) (uintptr, error) {
	var s C.uintptr_t
	if err := check("cuStreamCreate", C.mbc_stream_create(C.uintptr_t(ctx), &s)); err != nil {
		return 0, err
	}
	return uintptr(s), nil
}

func drvStreamDestroy(ctx, s uintptr) error {
	return check("cuStreamDestroy", C.mbc_stream_destroy(C.uintptr_t(ctx), C.uintptr_t(s)))
}

func drvStreamSync(ctx, s uintptr) error {
	return check("cuStreamSynchronize", C.mbc_stream_sync(C.uintptr_t(ctx), C.uintptr_t(s)))
}

func drvStreamWaitEvent(ctx, s, ev uintptr) error {
	return check("cuStreamWaitEvent", C.mbc_stream_wait_event(C.uintptr_t(ctx), C.uintptr_t(s), C.uintptr_t(ev)))
}

func drvEventCreate(ctx uintptr) (uintptr, error) {
	var e C.uintptr_t
	if err := check("cuEventCreate", C.mbc_event_create(C.uintptr_t(ctx), &e)); err != nil {
		return 0, err
	}
	return uintptr(e), nil
}

func drvEventRecord(ctx, ev, s uintptr) error {
	return check("cuEventRecord", C.mbc_event_record(C.uintptr_t(ctx), C.uintptr_t(ev), C.uintptr_t(s)))
}

func drvEventSync(ctx, ev uintptr) error {
	return check("cuEventSynchronize", C.mbc_event_sync(C.uintptr_t(ctx), C.uintptr_t(ev)))
}

func drvEventQuery(ctx, ev uintptr) (bool, error) {
	var done C.int
	if err := check("cuEventQuery", C.mbc_event_query(C.uintptr_t(ctx), C.uintptr_t(ev), &done)); err != nil {
		return false, err
	}
	return done != 0, nil
}

func drvEventDestroy(ctx, ev uintptr) error {
	return check("cuEventDestroy", C.mbc_event_destroy(C.uintptr_t(ctx), C.uintptr_t(ev)))
}
