//go:build cuda

package usermod

import (
	"slices"
	"testing"

	"github.com/membridge/membridge/cuda"
	"github.com/membridge/membridge/cuda/fakecuda" // registers the kernels the stand-in runs
	"github.com/membridge/membridge/tracker/leaktest"
)

// openDevice opens device 0 for one test and closes it after the test's
// deferred calls, so a deferred VerifyNone sees what the test left.
func openDevice(t *testing.T) *cuda.Context {
	t.Helper()
	c, err := cuda.Open(0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// Runs on a GPU and on the stand-in alike.
func TestScaleOnDevice(t *testing.T) {
	c := openDevice(t)
	defer leaktest.VerifyNone(t)

	x, err := cuda.CloneHtoD(c, "usermod/readings", []float32{1, 2, 3})
	if err != nil {
		t.Fatal(err)
	}
	defer x.Free()
	if err := cuda.Scale(c.DefaultStream(), x, x, 2); err != nil {
		t.Fatal(err)
	}
	got, err := cuda.CloneDtoH(x)
	if err != nil {
		t.Fatal(err)
	}
	if want := []float32{2, 4, 6}; !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

// What only the stand-in can tell: the driver itself holds nothing more
// after the test than before. Skipped on a GPU; with MEMBRIDGE_FAKECUDA=1
// (set by fakecuda env) it fails instead when the stand-in is not loaded.
func TestDriverHoldsNothingAfter(t *testing.T) {
	fakecuda.Require(t)
	before, _ := fakecuda.Read()
	c, err := cuda.Open(0)
	if err != nil {
		t.Fatal(err)
	}
	b, err := c.Alloc("usermod/scratch", 1<<16)
	if err != nil {
		t.Fatal(err)
	}
	b.Free()
	c.Close()
	after, _ := fakecuda.Read()
	if err := fakecuda.Grown(before, after); err != nil {
		t.Error(err)
	}
	if after.TotalDeviceAlloc == before.TotalDeviceAlloc {
		t.Error("the stand-in saw no allocation")
	}
}
