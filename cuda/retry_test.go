package cuda

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/membridge/membridge/tracker"
	"github.com/membridge/membridge/tracker/history"
	"github.com/membridge/membridge/tracker/leaktest"
)

// An out-of-memory retry of device and pinned memory reaches the event
// history, as the C heap's does: the ledger's owner protocol records it for
// every kind (it used to reach only the pressure counters).
func TestOutOfMemoryRetryIsInTheHistory(t *testing.T) {
	defer leaktest.VerifyNone(t)
	history.Enable(256)
	defer history.Disable()
	_, err := shared.Alloc("test/oom-history", 1<<50)
	require.ErrorIs(t, err, ErrOutOfMemory)
	_, err = shared.AllocPinned("test/oom-history", 1<<50)
	require.ErrorIs(t, err, ErrOutOfMemory)
	evs, _ := history.Events()
	var retried []tracker.Kind
	for _, e := range evs {
		if e.Op == history.EventRetry && e.Tag == "test/oom-history" {
			assert.False(t, e.Succeeded)
			retried = append(retried, e.Kind)
		}
	}
	assert.Equal(t, []tracker.Kind{kindDevice, kindPinned}, retried)
}
