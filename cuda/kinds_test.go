package cuda

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// The kinds keep the names reports and metrics have always shown, on every
// backend.
func TestKindNames(t *testing.T) {
	assert.Equal(t, "device", KindDevice.String())
	assert.Equal(t, "device-pool", KindDevicePool.String())
	assert.Equal(t, "device-emulated", KindDeviceEmulated.String())
	assert.Equal(t, "pinned-host", KindPinned.String())
}
