package tracker_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/membridge/membridge/internal/testkit"
	"github.com/membridge/membridge/tracker"
	"github.com/membridge/membridge/tracker/internal/ledgertest"
	"github.com/membridge/membridge/tracker/leaktest"
)

// tally is an Observer that counts the events of one tag.
type tally struct {
	tag string
	mu  sync.Mutex
	got []string
}

func (o *tally) note(tag, what string) {
	if tag == o.tag {
		o.mu.Lock()
		o.got = append(o.got, what)
		o.mu.Unlock()
	}
}

func (o *tally) events() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.got...)
}

func (o *tally) Allocated(r *tracker.Record) { o.note(r.Tag(), fmt.Sprint("alloc ", r.Bytes())) }
func (o *tally) Freed(r *tracker.Record)     { o.note(r.Tag(), fmt.Sprint("free ", r.Bytes())) }
func (o *tally) HandedOff(r *tracker.Record) { o.note(r.Tag(), fmt.Sprint("hand-off ", r.Bytes())) }
func (o *tally) Failed(r *tracker.Record)    { o.note(r.Tag(), fmt.Sprint("failed ", r.Bytes())) }
func (o *tally) Dropped(r *tracker.Record, reclaimed bool) {
	o.note(r.Tag(), fmt.Sprint("dropped ", r.Bytes(), " ", reclaimed))
}
func (o *tally) Retried(r *tracker.Record, ok bool) { o.note(r.Tag(), fmt.Sprint("retried ", ok)) }
func (o *tally) Refused(err *tracker.LimitError)    { o.note(err.Tag, fmt.Sprint("refused ", err.Bytes)) }

// An observer hears of every event from its AddObserver to its remove,
// in order; a second remove does nothing.
func TestObserverHearsEveryEvent(t *testing.T) {
	defer leaktest.VerifyNone(t)
	var o ledgertest.Owner
	tag := testkit.UniqueTag(t)
	obs := &tally{tag: tag}
	remove := tracker.AddObserver(obs)
	a, err := o.Alloc(tag, 100)
	require.NoError(t, err)
	b, err := o.Alloc(tag, 50)
	require.NoError(t, err)
	a.Free()
	b.Rec.HandOff()
	tracker.SetTagLimit(tag, 10)
	_, err = o.Alloc(tag, 11)
	require.True(t, errors.Is(err, tracker.ErrLimit), "alloc over the tag limit: %v", err)
	tracker.SetTagLimit(tag, 0)
	_, err = tracker.AllocateUnwatched(tracker.Request{Kind: ledgertest.KindCHeap, Device: -1, Tag: tag, Bytes: 7}, func() (uintptr, error) { return 0, tracker.ErrOutOfMemory }, nil)
	require.ErrorIs(t, err, tracker.ErrOutOfMemory)
	remove()
	remove()
	c, err := o.Alloc(tag, 1)
	require.NoError(t, err)
	c.Free()
	assert.Equal(t, []string{"alloc 100", "alloc 50", "free 100", "hand-off 50", "refused 11", "retried false", "failed 7"}, obs.events())
}

// Checking is a switch of its own: the stack rate does not move it.
func TestCheckingIsItsOwnSwitch(t *testing.T) {
	require.True(t, tracker.Checking(), "the test mode checks")
	defer tracker.SetStackRate(tracker.SetStackRate(0))
	assert.True(t, tracker.Checking())
	prev := tracker.SetChecking(false)
	defer tracker.SetChecking(prev)
	assert.True(t, prev)
	// A build with the membridge_invariants tag keeps checking on.
	assert.Equal(t, invariantsBuild, tracker.Checking())
	tracker.SetStackRate(1)
	assert.Equal(t, invariantsBuild, tracker.Checking())
}

func ExampleAddObserver() {
	var o ledgertest.Owner
	obs := &tally{tag: "example-observer"}
	remove := tracker.AddObserver(obs)
	h, _ := o.Alloc("example-observer", 64)
	h.Free()
	remove()
	fmt.Println(obs.events())
	// Output: [alloc 64 free 64]
}
