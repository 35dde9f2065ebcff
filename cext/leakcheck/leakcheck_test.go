package leakcheck_test

import (
	"runtime"
	"testing"

	"github.com/membridge/membridge/cext/internal/cmem"
	"github.com/membridge/membridge/cext/leakcheck"
	"github.com/membridge/membridge/native"
	"github.com/membridge/membridge/tracker/leaktest"
	"github.com/stretchr/testify/require"
)

func TestMain(m *testing.M) { leaktest.VerifyTestMain(m) }

// TestPlantedLeakIsFound: a C block whose only pointer is lost is found by
// the check of the test that lost it.
func TestPlantedLeakIsFound(t *testing.T) {
	if !leakcheck.Enabled {
		t.Skip("LeakSanitizer runs under go test -asan")
	}
	cmem.PlantLeak(4096)
	found := leakcheck.Scan()
	cmem.UnplantLeak()
	require.True(t, found, "LeakSanitizer did not find the planted leak")
	if leakcheck.Scan() {
		t.Error("LeakSanitizer still reports a leak after the planted block was freed")
	}
}

// TestGoHeldCMemoryIsNotALeak: C memory that only a Go object points to is
// reachable: the check must not blame it.
func TestGoHeldCMemoryIsNotALeak(t *testing.T) {
	defer leakcheck.Check(t)
	bufs := make([]*native.Buffer, 16)
	for i := range bufs {
		b, err := native.Alloc("leakcheck.held", 1<<10)
		require.NoError(t, err)
		bufs[i] = b
	}
	runtime.GC()
	if leakcheck.Scan() {
		t.Error("LeakSanitizer blamed C memory held by Go objects")
	}
	for _, b := range bufs {
		b.Free()
	}
}
