// Package testkit holds what membridge's tests share beyond testify: a tag
// unique to one run of a test, and one way to wait for a condition. It
// imports no membridge package, so the tests of every package, the
// ledger's own internal tests included, can use it. It is for tests only.
package testkit

import (
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var seq atomic.Int64

// UniqueTag returns a tag no other test of the process uses: t's name, the
// parts joined by "/", and a sequence number. The per-tag counters a test
// reads are then its own, and start from zero under -count>1 too.
func UniqueTag(t testing.TB, parts ...string) string {
	name := t.Name()
	if len(parts) > 0 {
		name += "/" + strings.Join(parts, "/")
	}
	return fmt.Sprintf("%s#%d", name, seq.Add(1))
}

// Patience is how long a wait lasts before its test fails. A condition
// that holds at once on an idle machine can take seconds on a loaded
// 2-core one (a garbage collection, the runtime's cleanup goroutine and
// the tests of other packages all compete for the CPUs), and tens of
// seconds under valgrind (make memcheck runs the cext, batch and handle
// tests there); a wait that succeeds returns as soon as the condition
// holds, so only a failing test pays for the margin.
const Patience = time.Minute

// poll is the pause between two checks of a wait's condition.
const poll = time.Millisecond

// Eventually runs check at once and then every millisecond until it makes
// no failed assertion, and fails t at once (FailNow) if that does not
// happen within Patience, with the failures of check's last run: the state
// it saw last. A condition that waits on the safety net or on cleanups
// calls tracker.GC (or runtime.GC) first inside check, so that every poll
// is a collection.
//
//	testkit.Eventually(t, func(c *assert.CollectT) {
//		tracker.GC()
//		assert.EqualValues(c, 1, tracker.TagStats(tag).DroppedCount)
//	})
func Eventually(t testing.TB, check func(c *assert.CollectT), msgAndArgs ...any) {
	t.Helper()
	require.EventuallyWithT(t, check, Patience, poll, msgAndArgs...)
}

// Until polls cond every millisecond, running between (if not nil) before
// each poll, until cond holds or Patience passes, and reports whether it
// held. It is Eventually for code with no test at hand to fail, such as a
// goroutine or a helper that reports on its own; a test uses Eventually.
func Until(cond func() bool, between func()) bool {
	deadline := time.Now().Add(Patience)
	for {
		if between != nil {
			between()
		}
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(poll)
	}
}
