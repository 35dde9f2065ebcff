// Package notify wraps notifier.c, a C library that stores a callback
// with a void* user data and calls back into Go: the demonstration and
// test bed of package handle. A Counter is a Go object that owns C state
// (a notifier) holding a handle back to the Counter, the Go/C form of a
// parent-child cycle: with a strong handle it is never collected, with a
// weak one it is, and its cleanup frees the notifier.
package notify

// #cgo CFLAGS: -Wall -Wextra -I${SRCDIR}/../../../cext
// #include <stdint.h>
// #include "notifier.h"
// notifier *notify_new(void *user);
// void notify_call_once(void *user, int event);
// void notify_lookup_once(uintptr_t user, int id);
// void notify_call_once_cgo(uintptr_t h, int event);
import "C"

import (
	"errors"
	"fmt"
	"runtime"
	"runtime/cgo"
	"sync"
	"sync/atomic"
	"unsafe"

	_ "github.com/membridge/membridge/cext" // links membridge.c, which notifier.c allocates with
	"github.com/membridge/membridge/handle"
)

// Tag is the ledger tag of the Counters' handles.
const Tag = "notify.counter"

// A Counter counts the events a C notifier delivers to it.
type Counter struct {
	events atomic.Int64
	res    *resources
	clean  runtime.Cleanup
}

// resources are what a Counter owns outside the Go heap. They must not
// refer to the Counter, or its cleanup would keep it alive.
type resources struct {
	n       *C.notifier
	user    unsafe.Pointer
	release func() error
	done    atomic.Bool
}

func (r *resources) free() error {
	if !r.done.CompareAndSwap(false, true) {
		return fmt.Errorf("notify: close: %w", handle.ErrReleased)
	}
	C.notifier_free(r.n)
	return r.release()
}

// NewCounter returns a Counter whose C notifier holds a weak handle to it
// (weak true) or a strong one. A Counter with a weak handle can be
// collected without Close: a cleanup then frees the notifier and releases
// the handle. One with a strong handle cannot: until Close, the ledger
// shows its handle and notifier as live.
func NewCounter(weak bool) (*Counter, error) {
	c := &Counter{}
	res := &resources{}
	if weak {
		w, err := handle.NewWeak(Tag, c)
		if err != nil {
			return nil, err
		}
		res.user, res.release = w.Pointer(), w.Release
	} else {
		h, err := handle.New(Tag, c)
		if err != nil {
			return nil, err
		}
		res.user, res.release = h.Pointer(), h.Release
	}
	res.n = C.notify_new(res.user)
	if res.n == nil {
		res.release()
		return nil, errors.New("notify: notifier_new: out of memory")
	}
	c.res = res
	c.clean = runtime.AddCleanup(c, func(r *resources) { r.free() }, res)
	return c, nil
}

// Fire makes the C notifier call back count times.
func (c *Counter) Fire(event, count int) {
	C.notifier_fire(c.res.n, C.int(event), C.int(count))
}

// Events returns how many events reached the Counter.
func (c *Counter) Events() int64 { return c.events.Load() }

// UserData returns the pointer the C notifier holds: the handle.
func (c *Counter) UserData() unsafe.Pointer { return c.res.user }

// Close frees the notifier and releases the handle. A second Close
// returns an error wrapping handle.ErrReleased.
func (c *Counter) Close() error {
	c.clean.Stop()
	return c.res.free()
}

var gone atomic.Int64

// GoneEvents returns how many callbacks found their weak handle's value
// collected (or the handle released) and were dropped.
func GoneEvents() int64 { return gone.Load() }

//export notifyGoEvent
func notifyGoEvent(user C.uintptr_t, event C.int) {
	v, err := handle.ValueOf(uintptr(user))
	if err != nil {
		gone.Add(1)
		return
	}
	if c, ok := v.(*Counter); ok {
		c.events.Add(1)
	}
}

//export notifyGoEventCgo
func notifyGoEventCgo(h C.uintptr_t, event C.int) {
	if c, ok := cgo.Handle(h).Value().(*Counter); ok {
		c.events.Add(1)
	}
}

// Call crosses from Go to C and back once, with user data p given to the
// callback (which looks it up with handle.Value).
func Call(p unsafe.Pointer) { C.notify_call_once(p, 1) }

// lookups hold the results of Lookup's callbacks until Lookup reads them.
var (
	lookups  sync.Map // id -> lookupResult
	lookupID atomic.Int32
)

type lookupResult struct {
	v   any
	err error
}

//export notifyGoLookup
func notifyGoLookup(user C.uintptr_t, id C.int) {
	v, err := handle.ValueOf(uintptr(user))
	lookups.Store(int32(id), lookupResult{v, err})
}

// Lookup gives C the integer user as its void* user data and returns what
// the Go callback C calls with it found there (handle.ValueOf): the
// C-side lookup of a handle, for values C made up as well as real ones.
func Lookup(user uintptr) (any, error) {
	id := lookupID.Add(1)
	C.notify_lookup_once(C.uintptr_t(user), C.int(id))
	r, ok := lookups.LoadAndDelete(id)
	if !ok {
		panic("notify: the C callback did not run")
	}
	res := r.(lookupResult)
	return res.v, res.err
}

// CallCgoHandle is Call for a runtime/cgo.Handle.
func CallCgoHandle(h cgo.Handle) { C.notify_call_once_cgo(C.uintptr_t(h), 1) }

// NewPlain returns a Counter that owns no C state, as a value for
// benchmarks and lookups.
func NewPlain() *Counter { return &Counter{} }
