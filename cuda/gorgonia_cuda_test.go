//go:build cuda

package cuda

import (
	"errors"
	"fmt"
	"runtime"
	"runtime/cgo"
	"testing"

	"github.com/membridge/membridge/internal/childtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gorgonia.org/cu"
)

// TestGorgoniaErrors: gorgonia's errors become DriverErrors with the
// driver's code and name, found by errors.As wherever they sit in the
// chain; anything else keeps its text behind the call's name.
func TestGorgoniaErrors(t *testing.T) {
	n, err := cu.NumDevices()
	require.NoError(t, err)
	_, bad := cu.GetDevice(n + 5)
	if bad == nil {
		t.Fatalf("cu.GetDevice(%d) of %d devices succeeded", n+5, n)
	}
	// ComputeCapability wraps the driver's error with github.com/pkg/errors.
	_, _, wrapped := cu.Device(n + 5).ComputeCapability()
	for _, c := range []struct {
		what string
		err  error
	}{
		{"bare", bad},
		{"wrapped with %w", fmt.Errorf("looking: %w", bad)},
		{"wrapped by gorgonia (pkg/errors)", wrapped},
	} {
		err := gorgoniaError("cuDeviceGet", c.err)
		var de *DriverError
		if !errors.As(err, &de) || de.Code != codeInvalidDev || de.Name != "CUDA_ERROR_INVALID_DEVICE" {
			t.Errorf("%s: %#v, want a DriverError for CUDA_ERROR_INVALID_DEVICE", c.what, err)
			continue
		}
		assert.ErrorIs(t, err, ErrNoDevice, "%s is not ErrNoDevice", c.what)
		if got, want := err.Error(), "cuDeviceGet: CUDA_ERROR_INVALID_DEVICE (101)"; got != want {
			t.Errorf("%s: %q, want %q", c.what, got, want)
		}
	}
	other := errors.New("not the driver's")
	if err := gorgoniaError("cuDeviceGet", other); !errors.Is(err, other) || err.Error() != "cuDeviceGet: not the driver's" {
		t.Errorf("another error: %v", err)
	}
	assert.NoError(t, gorgoniaError("cuDeviceGet", nil), "nil")
}

// TestGorgoniaDeviceQueries: what gorgonia reports is what Device holds.
func TestGorgoniaDeviceQueries(t *testing.T) {
	d, err := GetDevice(0)
	require.NoError(t, err)
	name, _ := cu.Device(0).Name()
	total, _ := cu.Device(0).TotalMem()
	major, minor, _ := cu.Device(0).ComputeCapability()
	if d.Name != name || d.TotalMemory != total || d.Major != major || d.Minor != minor || d.Ordinal != 0 {
		t.Errorf("GetDevice(0) = %+v; gorgonia: %q, %d bytes, compute %d.%d", d, name, total, major, minor)
	}
	if d.Name == "" || d.TotalMemory <= 0 || d.Major < 1 {
		t.Errorf("GetDevice(0) = %+v", d)
	}
}

// TestGorgoniaCallsKeepTheThreadsContext: the context-scoped calls made
// through gorgonia (modules, MemInfo) push the context and pop it again on
// a locked thread, so the calling thread's current context is what it was.
func TestGorgoniaCallsKeepTheThreadsContext(t *testing.T) {
	srcs, err := builtinModules(shared.dev.Major, shared.dev.Minor)
	require.NoError(t, err)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	before, err := cu.CurrentContext()
	require.NoError(t, err)
	if free, total, err := shared.MemInfo(); err != nil || free > total || total <= 0 {
		t.Errorf("MemInfo() = %d, %d, %v", free, total, err)
	}
	m, err := shared.LoadModule(srcs[0])
	require.NoError(t, err)
	h := m.h
	for name := range m.entries {
		if _, err := m.Function(name); err != nil {
			t.Error(err)
		}
	}
	if _, err := m.Function("no_such_kernel"); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("a kernel not in the module: %v, want ErrInvalidArgument", err)
	}
	require.NoError(t, m.Close())
	after, err := cu.CurrentContext()
	require.NoError(t, err)
	if after != before {
		t.Errorf("current context %v before the calls, %v after", before, after)
	}
	// Unloading deleted the module's handle.
	func() {
		defer func() {
			if recover() == nil {
				t.Error("the module's handle outlived its unload")
			}
		}()
		cgo.Handle(h).Value()
	}()
}

// TestStandinModuleCallsInADestroyedContext: a gorgonia call whose context
// cannot be pushed fails as the helpers' calls do, naming the push.
func TestStandinModuleCallsInADestroyedContext(t *testing.T) {
	standin(t)
	if !childtest.Alone(t, "MEMBRIDGE_FAKECUDA_DEVICES=2") {
		return
	}
	srcs, err := builtinModules(shared.dev.Major, shared.dev.Minor)
	require.NoError(t, err)
	c1, err := Open(1)
	require.NoError(t, err)
	m, err := c1.LoadModule(srcs[0])
	require.NoError(t, err)
	h1, mh := c1.h, m.h
	if err := c1.Close(); err != nil { // unloads m
		t.Fatal(err)
	}
	_, err = drvModuleLoad(h1, srcs[0])
	var de *DriverError
	if !errors.As(err, &de) || de.Code != standinContextIsDestroyed || de.Call != "cuCtxPushCurrent (for cuModuleLoadData)" {
		t.Errorf("load into a destroyed context: %v, want cuCtxPushCurrent (for cuModuleLoadData): CUDA_ERROR_CONTEXT_IS_DESTROYED", err)
	}
	if _, err := m.Function("mb_scale_f32"); !errors.Is(err, ErrClosed) {
		t.Errorf("a function of a module its context's Close unloaded: %v, want ErrClosed", err)
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("the module's handle outlived its context")
			}
		}()
		cgo.Handle(mh).Value()
	}()
}
