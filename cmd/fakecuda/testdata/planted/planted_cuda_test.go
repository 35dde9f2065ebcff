//go:build cuda

package usermod

import (
	"testing"

	"github.com/membridge/membridge/tracker/leaktest"
)

// A planted leak: device memory allocated and never freed. VerifyNone must
// fail this test, naming the tag and this line.
func TestPlantedDeviceLeak(t *testing.T) {
	c := openDevice(t)
	defer leaktest.VerifyNone(t)
	//membridge:ignore leak planted on purpose: the test exists to be reported
	if _, err := c.Alloc("usermod/planted", 1<<20); err != nil {
		t.Fatal(err)
	}
}
