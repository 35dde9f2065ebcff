//go:build cuda

package cuda

// Tests that only mean something on the stand-in driver
// (cuda/fakecuda): its counters are a leak oracle independent of the
// ledger, and it is stricter than a GPU. On NVIDIA's driver they skip; under
// make cuda-test (MEMBRIDGE_FAKECUDA=1) a missing stand-in fails them.

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"unsafe"

	"github.com/membridge/membridge/cuda/fakecuda"
	"github.com/membridge/membridge/internal/childtest"
	"github.com/membridge/membridge/tracker/leaktest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// After all tests and after the shared context is closed, the stand-in
// must hold no memory, stream, event, module or context, and must not have
// reclaimed anything from a destroyed context.
func init() { afterTests = append(afterTests, fakecuda.HoldsNothing) }

// standin skips t unless the stand-in driver is loaded (failing it instead
// under make cuda-test), and checks when t ends that the stand-in holds no
// more device or pinned memory, streams or events than when it began.
// Modules are left out: the shared context caches its built-in kernels.
func standin(t *testing.T) {
	t.Helper()
	fakecuda.Require(t)
	before, _ := fakecuda.Read()
	t.Cleanup(func() {
		after, _ := fakecuda.Read()
		after.Modules = before.Modules
		assert.NoError(t, fakecuda.Grown(before, after))
	})
}

func standinDriverCode(err error) int {
	var de *DriverError
	if errors.As(err, &de) {
		return de.Code
	}
	return -1
}

// CUresult codes the stand-in answers with (cuda.h).
const (
	standinInvalidContext     = 201
	standinIllegalAddress     = 700
	standinContextIsDestroyed = 709
)

func TestStandinCountsWhatTheBackendHolds(t *testing.T) {
	standin(t)
	before, _ := fakecuda.Read()
	b, err := shared.Alloc("test/standin", 1000)
	require.NoError(t, err)
	p, err := shared.AllocPinned("test/standin-pinned", 4096)
	require.NoError(t, err)
	s, err := shared.NewStream()
	require.NoError(t, err)
	mid, _ := fakecuda.Read()
	if mid.DeviceAllocs != before.DeviceAllocs+1 || mid.DeviceBytes != before.DeviceBytes+1000 ||
		mid.HostAllocs != before.HostAllocs+1 || mid.Streams != before.Streams+1 {
		t.Errorf("with a buffer, a pinned buffer and a stream alive: %+v, before %+v", mid, before)
	}
	for _, err := range []error{b.Free(), p.Free(), s.Close()} {
		assert.NoError(t, err)
	}
}

func TestStandinDevicePointersAreNotHostAddresses(t *testing.T) {
	standin(t)
	b, err := shared.Alloc("test/standin", 64)
	require.NoError(t, err)
	defer b.Free()
	p, err := b.DevicePtr()
	require.NoError(t, err)
	assert.True(t, fakecuda.HostLoadFaults(uintptr(p)), "a host load through device pointer %#x did not fault", uint64(p))
}

// The backend checks bounds before it calls the driver; the stand-in checks
// them again, so a bug below those checks is an error, not a stray write.
func TestStandinBoundsChecksTheDriverCalls(t *testing.T) {
	standin(t)
	b, err := shared.Alloc("test/standin", 100)
	require.NoError(t, err)
	defer b.Free()
	p, err := b.DevicePtr()
	require.NoError(t, err)
	host := make([]byte, 200)
	h := unsafe.Pointer(&host[0])
	for _, c := range []struct {
		name string
		err  error
	}{
		{"HtoD one byte too many", drvCopyHtoD(shared.h, p, h, 101, 0, false)},
		{"DtoH past the end from an offset", drvCopyDtoH(shared.h, h, p+50, 51, 0, false)},
		{"DtoD overlapping the end", drvCopyDtoD(shared.h, p+1, p, 100, 0, false)},
		{"async HtoD one byte too many", drvCopyHtoD(shared.h, p, h, 101, 0, true)},
		{"memset one byte too many", drvMemset(shared.h, p, 0, 101, 0, false)},
		{"free of an interior pointer", drvFree(shared.h, p+8, 0)},
	} {
		assert.True(t, errors.Is(c.err, ErrInvalidArgument), "%s: got %v, want CUDA_ERROR_INVALID_VALUE", c.name, c.err)
	}
	assert.NoError(t, drvCopyHtoD(shared.h, p, h, 100, 0, false), "HtoD of exactly the buffer")
}

func TestStandinKernelOnFreedMemory(t *testing.T) {
	standin(t)
	f, err := shared.BuiltinFunction("mb_scale_f32")
	require.NoError(t, err)
	b, err := shared.Alloc("test/standin", 64)
	require.NoError(t, err)
	p, err := b.DevicePtr()
	require.NoError(t, err)
	require.NoError(t, b.Free())
	// A raw DevicePtr bypasses the backend's checks; a GPU would fault in
	// the kernel, the stand-in refuses the launch.
	err = f.Launch(shared.DefaultStream(), LaunchConfig{Grid: Dim3{X: 1}, Block: Dim3{X: 32}}, p, p, float32(2), uint64(16))
	if standinDriverCode(err) != standinIllegalAddress {
		t.Errorf("launch on freed memory: got %v, want CUDA_ERROR_ILLEGAL_ADDRESS", err)
	}
}

func TestStandinFaultInjection(t *testing.T) {
	standin(t)
	require.True(t, fakecuda.FailAllocAfter(1), "FailAllocAfter found no stand-in")
	defer fakecuda.FailAllocAfter(-1)
	a, err := shared.Alloc("test/standin", 8)
	require.NoError(t, err)
	defer a.Free()
	_, err = shared.Alloc("test/standin", 8)
	assert.ErrorIs(t, err, ErrOutOfMemory, "an allocation the driver fails")
	_, err = shared.AllocPinned("test/standin", 8)
	assert.ErrorIs(t, err, ErrOutOfMemory, "a pinned allocation the driver fails")
	leaktest.VerifyNone(t, leaktest.IgnoreCurrent())
}

func TestStandinSeveralDevicesAndDestroyedContexts(t *testing.T) {
	standin(t)
	if !childtest.Alone(t, "MEMBRIDGE_FAKECUDA_DEVICES=2", "MEMBRIDGE_FAKECUDA_MEM=1048576") {
		return
	}
	n, err := DeviceCount()
	if err != nil || n != 2 {
		t.Fatalf("DeviceCount: %d, %v; want 2", n, err)
	}
	c1, err := Open(1)
	require.NoError(t, err)
	_, err = c1.Alloc("test/standin", 1<<20+1)
	assert.ErrorIs(t, err, ErrOutOfMemory, "more than device 1 holds")
	x0, err := CloneHtoD(shared, "test/x0", []float32{1, 2, 3, 4})
	require.NoError(t, err)
	defer x0.Free()
	x1, err := AllocSlice[float32](c1, "test/x1", 4)
	require.NoError(t, err)
	// Device 1's memory in device 0's context is refused by the stand-in
	// even where the backend's own checks are bypassed.
	p1, err := x1.Buffer().DevicePtr()
	require.NoError(t, err)
	if err := drvFree(shared.h, p1, 16); standinDriverCode(err) != standinInvalidContext {
		t.Errorf("freeing device 1's memory in device 0's context: got %v, want CUDA_ERROR_INVALID_CONTEXT", err)
	}
	h1 := c1.h
	require.NoError(t, c1.Close())
	if c, _ := fakecuda.Read(); c.ActiveContexts != 1 || c.ReclaimedAtReset != 0 {
		t.Errorf("after closing device 1: %+v; want only device 0's context active and nothing reclaimed", c)
	}
	// Device 1's primary context is destroyed: the driver refuses it.
	_, err = drvAlloc(h1, 8, false)
	if standinDriverCode(err) != standinContextIsDestroyed {
		t.Errorf("alloc in a destroyed context: got %v, want CUDA_ERROR_CONTEXT_IS_DESTROYED", err)
	}
	if err := drvCtxSynchronize(h1); standinDriverCode(err) != standinContextIsDestroyed {
		t.Errorf("synchronize a destroyed context: got %v, want CUDA_ERROR_CONTEXT_IS_DESTROYED", err)
	}
	if err := drvCtxRelease(1); standinDriverCode(err) != standinInvalidContext {
		t.Errorf("a release too many: got %v, want CUDA_ERROR_INVALID_CONTEXT", err)
	}
	if _, err := Open(2); err == nil {
		t.Error("Open(2) with 2 devices succeeded")
	}
}

// Example-style check that the counters' report names what leaked.
func TestStandinGrownNamesTheLeak(t *testing.T) {
	standin(t)
	before, _ := fakecuda.Read()
	b, err := shared.Alloc("test/standin", 10)
	require.NoError(t, err)
	after, _ := fakecuda.Read()
	require.NoError(t, b.Free())
	err = fakecuda.Grown(before, after)
	want := fmt.Sprintf("device allocations %d -> %d", before.DeviceAllocs, before.DeviceAllocs+1)
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("Grown with one buffer alive: %v; want it to say %q", err, want)
	}
}
