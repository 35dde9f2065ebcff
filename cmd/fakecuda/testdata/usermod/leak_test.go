package usermod

import (
	"testing"

	"github.com/membridge/membridge/native"
	"github.com/membridge/membridge/tracker/leaktest"
)

// A plain test: it builds without the cuda tag and without cuda.h, and
// fails if it leaves native memory behind.
func TestScratchIsFreed(t *testing.T) {
	defer leaktest.VerifyNone(t)
	b, err := native.Alloc("usermod/scratch", 4096)
	if err != nil {
		t.Fatal(err)
	}
	b.Free()
}
