package cuda

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/membridge/membridge/tracker"
)

// An out-of-memory retry of device and pinned memory reaches the event
// history, as the C heap's does: the ledger's owner protocol records it for
// every kind (it used to reach only the pressure counters).
func TestOutOfMemoryRetryIsInTheHistory(t *testing.T) {
	defer tracker.VerifyNone(t)
	tracker.EnableHistory(256)
	defer tracker.DisableHistory()
	_, err := shared.Alloc("test/oom-history", 1<<50)
	require.ErrorIs(t, err, ErrOutOfMemory)
	_, err = shared.AllocPinned("test/oom-history", 1<<50)
	require.ErrorIs(t, err, ErrOutOfMemory)
	evs, _ := tracker.History()
	var retried []tracker.Kind
	for _, e := range evs {
		if e.Op == tracker.EventRetry && e.Tag == "test/oom-history" {
			assert.False(t, e.Succeeded)
			retried = append(retried, e.Kind)
		}
	}
	assert.Equal(t, []tracker.Kind{kindDevice, kindPinned}, retried)
}
