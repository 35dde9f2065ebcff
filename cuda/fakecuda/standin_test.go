//go:build cuda

package fakecuda

import (
	"errors"
	"fmt"
	"math"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
	"unsafe"

	"gorgonia.org/cu"

	"github.com/membridge/membridge/cuda/internal/refkernels"
	"github.com/membridge/membridge/internal/childtest"
	"github.com/membridge/membridge/tracker/leaktest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// plantedReclaims counts the objects tests deliberately leave in a context
// they destroy; the run must end with exactly that many reclaimed.
var plantedReclaims int64

type checkedM struct{ m *testing.M }

// Run runs the tests, then fails the run if the stand-in still holds
// anything or reclaimed more than the tests planted.
func (c checkedM) Run() int {
	code := c.m.Run()
	if got, ok := Read(); ok {
		reclaimed := got.ReclaimedAtReset
		got.ReclaimedAtReset -= plantedReclaims
		if err := got.Idle(); err != nil || reclaimed < plantedReclaims {
			fmt.Fprintf(os.Stderr, "after the tests: %v (reclaimed %d, planted %d)\n", err, reclaimed, plantedReclaims)
			code = 1
		}
	}
	return code
}

func TestMain(m *testing.M) { leaktest.VerifyTestMain(checkedM{m}) }

// onContext runs f on a locked OS thread with device dev's primary context
// current, and checks that f left the stand-in holding nothing new.
func onContext(t *testing.T, dev int, f func(cu.CUContext)) {
	t.Helper()
	Require(t)
	before, _ := Read()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	d, err := cu.GetDevice(dev)
	require.NoError(t, err)
	ctx, err := d.RetainPrimaryCtx()
	require.NoError(t, err)
	require.NoError(t, cu.SetCurrentContext(ctx))
	f(ctx)
	if _, err := cu.PopCurrentCtx(); err != nil {
		t.Error(err)
	}
	assert.NoError(t, d.ReleasePrimaryCtx())
	after, _ := Read()
	after.ReclaimedAtReset -= plantedReclaims - before.ReclaimedAtReset
	assert.NoError(t, Grown(before, after))
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	assert.True(t, errors.Is(err, want), "%s: got error %v, want %v", what, err, want)
}

func mustAlloc(t *testing.T, n int64) cu.DevicePtr {
	t.Helper()
	p, err := cu.MemAlloc(n)
	require.NoError(t, err, "MemAlloc(%d)", n)
	return p
}

func TestCountersFollowAllocations(t *testing.T) {
	onContext(t, 0, func(cu.CUContext) {
		before, _ := Read()
		p := mustAlloc(t, 1000)
		mid, _ := Read()
		if mid.DeviceAllocs != before.DeviceAllocs+1 || mid.DeviceBytes != before.DeviceBytes+1000 {
			t.Errorf("after MemAlloc(1000): %+v, before %+v", mid, before)
		}
		if err := Grown(before, mid); err == nil {
			t.Error("Grown saw nothing after an allocation")
		}
		require.NoError(t, cu.MemFree(p))
		after, _ := Read()
		assert.NoError(t, Grown(before, after))
	})
}

func TestDevicePointersAreNotHostAddresses(t *testing.T) {
	onContext(t, 0, func(cu.CUContext) {
		p := mustAlloc(t, 64)
		defer cu.MemFree(p)
		if uint64(p) < DevicePointerBase || uint64(p) >= DevicePointerBase+DevicePointerSpan {
			t.Errorf("device pointer %#x is outside device 0's span", uint64(p))
		}
		assert.True(t, HostLoadFaults(uintptr(p)), "a host load through device pointer %#x did not fault", uint64(p))
		// A device pointer where host memory is expected is refused.
		wantErr(t, "MemcpyHtoD from a device pointer", cu.MemcpyHtoD(p, *(*unsafe.Pointer)(unsafe.Pointer(&p)), 8), cu.InvalidValue)
	})
}

func TestCopiesAreBoundsChecked(t *testing.T) {
	onContext(t, 0, func(cu.CUContext) {
		a, b := mustAlloc(t, 100), mustAlloc(t, 100)
		defer cu.MemFree(a)
		defer cu.MemFree(b)
		host := make([]byte, 200)
		h := unsafe.Pointer(&host[0])
		for _, c := range []struct {
			name string
			err  error
		}{
			{"HtoD in bounds", cu.MemcpyHtoD(a, h, 100)},
			{"HtoD at an offset, in bounds", cu.MemcpyHtoD(a+60, h, 40)},
			{"DtoH in bounds", cu.MemcpyDtoH(h, a, 100)},
			{"DtoD in bounds", cu.MemcpyDtoD(b, a, 100)},
			{"MemsetD8 in bounds", cu.MemsetD8(a+99, 7, 1)},
		} {
			assert.NoError(t, c.err, c.name)
		}
		for _, c := range []struct {
			name string
			err  error
		}{
			{"HtoD one byte too many", cu.MemcpyHtoD(a, h, 101)},
			{"HtoD past the end from an offset", cu.MemcpyHtoD(a+60, h, 41)},
			{"DtoH one byte too many", cu.MemcpyDtoH(h, a, 101)},
			{"DtoD source too short", cu.MemcpyDtoD(b, a+1, 100)},
			{"DtoD destination too short", cu.MemcpyDtoD(b+1, a, 100)},
			{"MemsetD8 past the end", cu.MemsetD8(a+99, 7, 2)},
			{"HtoD to the gap after an allocation", cu.MemcpyHtoD(a+100, h, 1)},
			{"HtoD before an allocation", cu.MemcpyHtoD(a-1, h, 1)},
			{"HtoD to address 0", cu.MemcpyHtoD(0, h, 1)},
			{"HtoD to a host address", cu.MemcpyHtoD(cu.DevicePtr(uintptr(h)), h, 1)},
		} {
			wantErr(t, c.name, c.err, cu.InvalidValue)
		}
		want := make([]byte, 100)
		for i := range want {
			want[i] = byte(i)
		}
		require.NoError(t, cu.MemcpyHtoD(a, unsafe.Pointer(&want[0]), 100))
		got := make([]byte, 100)
		require.NoError(t, cu.MemcpyDtoH(unsafe.Pointer(&got[0]), a, 100))
		assert.Equal(t, string(want), string(got), "round trip")
	})
}

func TestFreedPointersAreInvalid(t *testing.T) {
	onContext(t, 0, func(cu.CUContext) {
		p := mustAlloc(t, 16)
		wantErr(t, "MemFree of an interior pointer", cu.MemFree(p+8), cu.InvalidValue)
		require.NoError(t, cu.MemFree(p))
		var x [16]byte
		wantErr(t, "MemFree twice", cu.MemFree(p), cu.InvalidValue)
		wantErr(t, "DtoH after free", cu.MemcpyDtoH(unsafe.Pointer(&x[0]), p, 16), cu.InvalidValue)
		q := mustAlloc(t, 16)
		defer cu.MemFree(q)
		if q == p {
			t.Errorf("the stand-in reused freed address %#x", uint64(p))
		}
	})
}

func TestContextStacksArePerThread(t *testing.T) {
	onContext(t, 0, func(ctx cu.CUContext) {
		done := make(chan error)
		go func() {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			cur, err := cu.CurrentContext()
			if err == nil && cur != (cu.CUContext{}) {
				err = fmt.Errorf("a new thread has context %v current", cur)
			}
			if err == nil {
				_, err = cu.MemAlloc(8)
				if errors.Is(err, cu.InvalidContext) {
					err = nil
				} else {
					err = fmt.Errorf("MemAlloc with no current context: got %v, want InvalidContext", err)
				}
			}
			done <- err
		}()
		if err := <-done; err != nil {
			t.Error(err)
		}
		// Push and pop nest on this thread.
		require.NoError(t, cu.PushCurrentCtx(ctx))
		if got, err := cu.PopCurrentCtx(); err != nil || got != ctx {
			t.Errorf("PopCurrentCtx: %v, %v; want %v", got, err, ctx)
		}
		if got, err := cu.CurrentContext(); err != nil || got != ctx {
			t.Errorf("after push and pop the current context is %v (%v), want %v", got, err, ctx)
		}
	})
}

func TestDestroyedContext(t *testing.T) {
	Require(t)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	before, _ := Read()
	d, _ := cu.GetDevice(0)
	ctx, err := d.RetainPrimaryCtx()
	require.NoError(t, err)
	require.NoError(t, cu.SetCurrentContext(ctx))
	require.EqualValues(t, 0, before.ActiveContexts, "another test holds the primary context: %+v", before)
	p := mustAlloc(t, 32)
	_ = p // left alive on purpose: the context's destruction reclaims it
	plantedReclaims++
	require.NoError(t, d.ReleasePrimaryCtx())
	after, _ := Read()
	if after.ReclaimedAtReset != before.ReclaimedAtReset+1 || after.DeviceAllocs != before.DeviceAllocs {
		t.Errorf("destroying a context holding one allocation: %+v, before %+v", after, before)
	}
	if err := Grown(before, after); err == nil || !strings.Contains(err.Error(), "context was destroyed") {
		t.Errorf("Grown: %v, want a report of the reclaimed allocation", err)
	}
	_, err = cu.MemAlloc(8)
	wantErr(t, "MemAlloc in a destroyed context", err, cu.ContextIsDestroyed)
	wantErr(t, "MemFree in a destroyed context", cu.MemFree(p), cu.ContextIsDestroyed)
	wantErr(t, "Synchronize in a destroyed context", cu.Synchronize(), cu.ContextIsDestroyed)
	wantErr(t, "PushCurrentCtx of a destroyed context", cu.PushCurrentCtx(ctx), cu.ContextIsDestroyed)
	wantErr(t, "a release too many", d.ReleasePrimaryCtx(), cu.InvalidContext)
	if _, err := cu.PopCurrentCtx(); err != nil {
		t.Error(err)
	}
	wantErr(t, "MemAlloc with no context", func() error { _, err := cu.MemAlloc(8); return err }(), cu.InvalidContext)
}

func TestFaultInjection(t *testing.T) {
	onContext(t, 0, func(cu.CUContext) {
		require.True(t, FailAllocAfter(2), "FailAllocAfter found no stand-in")
		defer FailAllocAfter(-1)
		a, b := mustAlloc(t, 8), mustAlloc(t, 8)
		_, err := cu.MemAlloc(8)
		wantErr(t, "the third allocation", err, cu.OutOfMemory)
		FailAllocAfter(-1)
		c := mustAlloc(t, 8)
		for _, p := range []cu.DevicePtr{a, b, c} {
			assert.NoError(t, cu.MemFree(p))
		}
	})
}

// ptx is enough PTX for the stand-in: it reads the .entry lines only.
func ptx(names ...string) string {
	var b strings.Builder
	b.WriteString("//\n// test module\n.version 7.8\n.target sm_90\n.address_size 64\n\n")
	for _, n := range names {
		fmt.Fprintf(&b, ".visible .entry %s(\n\t.param .u64 %s_param_0\n)\n{\n\tret;\n}\n", n, n)
	}
	return b.String()
}

func TestModules(t *testing.T) {
	onContext(t, 0, func(cu.CUContext) {
		_, err := cu.LoadData("no directives here")
		wantErr(t, "LoadData of text that is not PTX", err, cu.InvalidPtx)
		_, err = cu.LoadData("\x7fELF....")
		wantErr(t, "LoadData of a cubin", err, cu.NotSupported)
		m, err := cu.LoadData(ptx("first", "second"))
		require.NoError(t, err)
		for _, n := range []string{"first", "second"} {
			if _, err := m.Function(n); err != nil {
				t.Errorf("Function(%q): %v", n, err)
			}
		}
		_, err = m.Function("firs")
		wantErr(t, "Function of a name not in the module", err, cu.NotFound)
		require.NoError(t, m.Unload())
		_, err = m.Function("first")
		wantErr(t, "Function of an unloaded module", err, cu.InvalidHandle)
		wantErr(t, "Unload twice", m.Unload(), cu.InvalidHandle)
	})
}

func TestLaunchRunsTheCReference(t *testing.T) {
	onContext(t, 0, func(cu.CUContext) {
		if n, err := RegisteredKernels(); err != nil || n < 2 {
			t.Fatalf("RegisteredKernels: %d, %v", n, err)
		}
		m, err := cu.LoadData(ptx(SelfTestKernel, "not_registered"))
		require.NoError(t, err)
		defer m.Unload()
		fn, err := m.Function(SelfTestKernel)
		require.NoError(t, err)
		const n = 1000
		out := mustAlloc(t, 4*n)
		defer cu.MemFree(out)
		before, _ := Read()
		// Scalars in 8-byte slots: gorgonia reads 8 bytes per argument.
		args := []uint64{uint64(out), n, 7}
		params := []unsafe.Pointer{unsafe.Pointer(&args[0]), unsafe.Pointer(&args[1]), unsafe.Pointer(&args[2])}
		require.NoError(t, fn.Launch(3, 1, 1, 128, 1, 1, 0, cu.Stream{}, params))
		got := make([]uint32, n)
		require.NoError(t, cu.MemcpyDtoH(unsafe.Pointer(&got[0]), out, 4*n))
		for i, v := range got {
			require.Equal(t, uint32(7+i), v, "out[%d]", i)
		}
		if after, _ := Read(); after.Launches != before.Launches+1 {
			t.Errorf("launch counter: %d -> %d", before.Launches, after.Launches)
		}

		launch := func(fn cu.Function, bx int, args []uint64) error {
			params := make([]unsafe.Pointer, len(args))
			for i := range args {
				params[i] = unsafe.Pointer(&args[i])
			}
			return fn.Launch(1, 1, 1, bx, 1, 1, 0, cu.Stream{}, params)
		}
		wantErr(t, "a launch on a freed pointer", launch(fn, 32, []uint64{uint64(out) + 1<<30, 1, 0}), cu.IllegalAddress)
		wantErr(t, "a block of 1025 threads", launch(fn, 1025, []uint64{uint64(out), 1, 0}), cu.InvalidValue)
		other, err := m.Function("not_registered")
		require.NoError(t, err)
		wantErr(t, "a kernel with no C reference", launch(other, 32, []uint64{uint64(out)}), cu.NotFound)
	})
}

// TestReferenceKernelVectors runs the known-answer vectors of
// cuda/internal/refkernels through cuLaunchKernel on the stand-in.
func TestReferenceKernelVectors(t *testing.T) {
	onContext(t, 0, func(ctx cu.CUContext) {
		var names []string
		for _, v := range refkernels.Vectors {
			names = append(names, v.Kernel)
		}
		m, err := cu.LoadData(ptx(names...))
		require.NoError(t, err)
		defer m.Unload()
		for i, v := range refkernels.Vectors {
			t.Run(fmt.Sprintf("%d_%s", i, v.Kernel), func(t *testing.T) {
				// A subtest runs on its own goroutine: make the context
				// current on its thread.
				runtime.LockOSThread()
				defer runtime.UnlockOSThread()
				require.NoError(t, cu.SetCurrentContext(ctx))
				defer cu.PopCurrentCtx()
				k, ok := refkernels.Find(v.Kernel)
				require.True(t, ok, "no reference kernel %q", v.Kernel)
				fn, err := m.Function(v.Kernel)
				require.NoError(t, err)
				y := cloneToDevice(t, v.Y)
				defer cu.MemFree(y)
				x := cloneToDevice(t, v.X)
				defer cu.MemFree(x)
				ptrs, scalars := []cu.DevicePtr{y, x}, v.Scalars
				slots := make([]uint64, len(k.Params))
				for j, p := range k.Params {
					switch p {
					case refkernels.DevPtr:
						slots[j], ptrs = uint64(ptrs[0]), ptrs[1:]
					case refkernels.F32:
						slots[j], scalars = uint64(math.Float32bits(scalars[0])), scalars[1:]
					case refkernels.U64:
						slots[j] = uint64(len(v.X))
					}
				}
				params := make([]unsafe.Pointer, len(slots))
				for j := range slots {
					params[j] = unsafe.Pointer(&slots[j])
				}
				require.NoError(t, fn.Launch(int(v.Grid), 1, 1, int(v.Block), 1, 1, 0, cu.Stream{}, params))
				got := make([]float32, len(v.Want))
				require.NoError(t, cu.MemcpyDtoH(unsafe.Pointer(&got[0]), y, int64(4*len(got))))
				for j := range got {
					if math.Float32bits(got[j]) != math.Float32bits(v.Want[j]) && !(got[j] != got[j] && v.Want[j] != v.Want[j]) {
						t.Errorf("element %d: got %v, want %v", j, got[j], v.Want[j])
					}
				}
			})
		}
	})
}

func cloneToDevice(t *testing.T, v []float32) cu.DevicePtr {
	t.Helper()
	p := mustAlloc(t, int64(4*len(v)))
	require.NoError(t, cu.MemcpyHtoD(p, unsafe.Pointer(&v[0]), int64(4*len(v))))
	return p
}

func TestSeveralDevices(t *testing.T) {
	Require(t)
	if !childtest.Alone(t, "MEMBRIDGE_FAKECUDA_DEVICES=3", "MEMBRIDGE_FAKECUDA_MEM=1048576") {
		return
	}
	n, err := cu.NumDevices()
	if err != nil || n != 3 {
		t.Fatalf("NumDevices: %d, %v; want 3", n, err)
	}
	_, err = cu.GetDevice(3)
	wantErr(t, "GetDevice(3) of 3 devices", err, cu.InvalidDevice)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var ctxs [3]cu.CUContext
	var ptrs [3]cu.DevicePtr
	for dev := range 3 {
		d, _ := cu.GetDevice(dev)
		if ctxs[dev], err = d.RetainPrimaryCtx(); err != nil {
			t.Fatal(err)
		}
		require.NoError(t, cu.SetCurrentContext(ctxs[dev]))
		free, total, err := cu.MemInfo()
		if err != nil || total != 1<<20 || free != total {
			t.Errorf("device %d MemInfo: %d free of %d, %v", dev, free, total, err)
		}
		_, err = cu.MemAlloc(1<<20 + 1)
		wantErr(t, "MemAlloc of more than the device holds", err, cu.OutOfMemory)
		ptrs[dev] = mustAlloc(t, 1<<19)
		base := DevicePointerBase + uint64(dev)*DevicePointerSpan
		if p := uint64(ptrs[dev]); p < base || p >= base+DevicePointerSpan {
			t.Errorf("device %d allocated %#x, outside its span", dev, p)
		}
	}
	// Device 2 is current. Unified addressing: copies between devices
	// work, but memory is freed in its own context.
	assert.NoError(t, cu.MemcpyDtoD(ptrs[2], ptrs[0], 1<<19), "DtoD from device 0 to 2")
	wantErr(t, "MemFree of device 0's memory in device 2's context", cu.MemFree(ptrs[0]), cu.InvalidContext)
	wantErr(t, "MemsetD8 of device 1's memory in device 2's context", cu.MemsetD8(ptrs[1], 0, 1), cu.InvalidContext)
	for dev := range 3 {
		require.NoError(t, cu.SetCurrentContext(ctxs[dev]))
		assert.NoError(t, cu.MemFree(ptrs[dev]))
		d, _ := cu.GetDevice(dev)
		assert.NoError(t, d.ReleasePrimaryCtx())
	}
	if _, err := cu.PopCurrentCtx(); err != nil {
		t.Error(err)
	}
	if c, _ := Read(); c.Idle() != nil {
		t.Error(c.Idle())
	}
}

func TestBadEnvironmentFailsInit(t *testing.T) {
	if childtest.InChild(t) {
		t.Fatal("cuInit should have failed before the tests ran")
	}
	Require(t)
	out, err := childtest.Run(t, "MEMBRIDGE_FAKECUDA_DEVICES=9")
	if err == nil || !strings.Contains(out, "MEMBRIDGE_FAKECUDA_DEVICES=9") {
		t.Errorf("a child with 9 devices: %v\n%s", err, out)
	}
}

func TestUnmodelledCallsAreNotSupported(t *testing.T) {
	onContext(t, 0, func(cu.CUContext) {
		// Generated stubs: the stand-in does not pretend.
		_, err := cu.MemAllocManaged(64, cu.AttachGlobal)
		wantErr(t, "MemAllocManaged", err, cu.NotSupported)
		_, _, err = cu.MemAllocPitch(64, 4, 4)
		wantErr(t, "MemAllocPitch", err, cu.NotSupported)
		// Attributes it does not model are refused, not made up.
		d, _ := cu.GetDevice(0)
		_, err = d.Attribute(cu.ClockRate)
		wantErr(t, "the clock rate attribute", err, cu.NotSupported)
		if major, err := d.Attribute(cu.ComputeCapabilityMajor); err != nil || major != 9 {
			t.Errorf("compute capability major: %d, %v; want 9 (an H100)", major, err)
		}
	})
}

func TestFailAllocAfterFromEnvironment(t *testing.T) {
	Require(t)
	if !childtest.Alone(t, "MEMBRIDGE_FAKECUDA_FAIL_ALLOC_AFTER=1") {
		return
	}
	onContext(t, 0, func(cu.CUContext) {
		p := mustAlloc(t, 8)
		_, err := cu.MemAlloc(8)
		wantErr(t, "the second allocation", err, cu.OutOfMemory)
		assert.NoError(t, cu.MemFree(p))
	})
}

// Under a stream delay, a memset queued on a stream lands only when waited
// for, an event recorded after it is not ready until then, and work on
// another stream that touches the same memory meanwhile is counted as a
// race (the late write then lands over it).
func TestDelayStreamWork(t *testing.T) {
	onContext(t, 0, func(cu.CUContext) {
		require.True(t, DelayStreamWork(time.Hour), "DelayStreamWork found no stand-in")
		defer DelayStreamWork(0)
		a, err := cu.MakeStream(cu.DefaultStream)
		require.NoError(t, err)
		b, err := cu.MakeStream(cu.DefaultStream)
		require.NoError(t, err)
		ev, err := cu.MakeEvent(cu.DefaultEvent)
		require.NoError(t, err)
		p := mustAlloc(t, 64)
		before, _ := Read()

		require.NoError(t, cu.MemsetD8Async(p, 0xAA, 64, a))
		require.NoError(t, ev.Record(a))
		wantErr(t, "Query of an event after delayed work", ev.Query(), cu.NotReady)
		wantErr(t, "Query of the stream", a.Query(), cu.NotReady)
		got := make([]byte, 64)
		require.NoError(t, cu.MemcpyDtoHAsync(unsafe.Pointer(&got[0]), p, 64, b))
		mid, _ := Read()
		assert.Equal(t, before.StreamHazards+1, mid.StreamHazards, "B read what A's pending write uses")
		assert.Equal(t, before.DelayedWork+1, mid.DelayedWork)
		assert.Equal(t, byte(0xCD), got[0], "the write has not landed")

		require.NoError(t, ev.Synchronize())
		assert.NoError(t, ev.Query(), "complete once waited for")
		require.NoError(t, cu.MemcpyDtoH(unsafe.Pointer(&got[0]), p, 64))
		assert.Equal(t, byte(0xAA), got[63], "the write landed")

		// Stream order: B waits for an event of A, so B's work runs after
		// A's, with no race.
		require.NoError(t, cu.MemsetD8Async(p, 0xBB, 64, a))
		require.NoError(t, ev.Record(a))
		require.NoError(t, b.Wait(ev, 0))
		require.NoError(t, cu.MemsetD8Async(p, 0xCC, 64, b))
		require.NoError(t, b.Synchronize())
		require.NoError(t, cu.MemcpyDtoH(unsafe.Pointer(&got[0]), p, 64))
		assert.Equal(t, byte(0xCC), got[0])
		after, _ := Read()
		assert.Equal(t, mid.StreamHazards, after.StreamHazards)

		// Off again, work runs when queued.
		DelayStreamWork(0)
		require.NoError(t, cu.MemsetD8Async(p, 0xDD, 64, a))
		require.NoError(t, ev.Record(a))
		assert.NoError(t, ev.Query())
		assert.NoError(t, cu.MemFree(p))
		assert.NoError(t, cu.DestroyEvent(&ev))
		assert.NoError(t, a.Destroy())
		assert.NoError(t, b.Destroy())
	})
}
