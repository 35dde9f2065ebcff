package cext

import (
	"fmt"
	"unsafe"

	"github.com/membridge/membridge/tracker"
	"github.com/membridge/membridge/tracker/leaktest"
)

// Tracing wraps the tests of a package that calls C extensions so that C
// allocations are traced from the first test on:
//
//	func TestMain(m *testing.M) { leaktest.VerifyTestMain(cext.Tracing(m)) }
//
// VerifyTestMain turns the test mode on before it runs the tests; the
// wrapper then calls FollowChecking, so even C reached through a wrapper that
// never calls cext is traced, and a C-side leak is reported with the Go
// stack that led to it.
func Tracing(m leaktest.TestingM) leaktest.TestingM { return tracingM{m} }

type tracingM struct{ m leaktest.TestingM }

func (t tracingM) Run() int {
	FollowChecking()
	return t.m.Run()
}

// FreeLeaked frees the block of a c-extension record the ledger holds
// (a traced C allocation that nothing freed), given its snapshot
// (tracker.LiveSnapshots), as membridge_free would. Tests use it to clean
// up after a leak they provoked on purpose.
func FreeLeaked(r tracker.Snapshot) error {
	if r.Kind != KindCExtension || !r.Live {
		return fmt.Errorf("cext: free leaked record %d (kind %s, tag %q): not a live c-extension record: %w", r.ID, r.Kind, r.Tag, ErrForeign)
	}
	addr := r.Addr
	return Free(*(*unsafe.Pointer)(unsafe.Pointer(&addr)))
}
