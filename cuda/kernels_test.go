package cuda

import (
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/membridge/membridge/cuda/internal/refkernels"
	"github.com/membridge/membridge/native"
	"github.com/membridge/membridge/tracker/leaktest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// poison is what output memory holds before each launch: a NaN pattern no
// kernel writes, so an element a kernel skipped shows.
const poison = 0xFF

func bitsEqual(a, b []float32) int {
	if len(a) != len(b) {
		return 0
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return i
		}
	}
	return -1
}

// launchVector runs one launch of a built-in kernel: x and y copied to the
// device (y poisoned first when nil), scalars in order, n = len(x).
func launchVector(t *testing.T, s *Stream, name string, grid, block uint32, x, y, scalars []float32, ylen int) []float32 {
	t.Helper()
	f, err := shared.BuiltinFunction(name)
	require.NoError(t, err)
	dx, err := CloneHtoDOn(s, "test/kernel-x", x)
	require.NoError(t, err)
	defer dx.Free()
	dy, err := AllocSliceOn[float32](s, "test/kernel-y", ylen)
	require.NoError(t, err)
	defer dy.Free()
	require.NoError(t, FillOn(s, dy, poison))
	if y != nil {
		require.NoError(t, CopyHtoDOn(s, dy, y))
	}
	args := []any{dy, dx}
	for _, v := range scalars {
		args = append(args, v)
	}
	args = append(args, uint64(len(x)))
	require.NoError(t, f.Launch(s, LaunchConfig{Grid: Dim3{X: grid}, Block: Dim3{X: block}}, args...), "%s", f.describe())
	out := make([]float32, ylen)
	require.NoError(t, CopyDtoHOn(s, out, dy))
	require.NoError(t, s.Synchronize())
	return out
}

// TestKernelVectors checks each built-in kernel against the known answers
// the C references are tested with (refkernels.Vectors).
func TestKernelVectors(t *testing.T) {
	defer leaktest.VerifyNone(t)
	s, err := shared.NewStream()
	require.NoError(t, err)
	defer s.Close()
	for _, v := range refkernels.Vectors {
		got := launchVector(t, s, v.Kernel, v.Grid, v.Block, v.X, v.Y, v.Scalars, len(v.Want))
		if i := bitsEqual(got, v.Want); i >= 0 {
			t.Errorf("%s grid %d block %d: got %v, want %v (first difference at %d)", v.Kernel, v.Grid, v.Block, got, v.Want, i)
		}
	}
}

// reference runs the C reference of a kernel on C memory, its output
// poisoned as the device's is before it is given y.
func reference(t *testing.T, name string, grid, block uint32, x, y, scalars []float32, ylen int) []float32 {
	t.Helper()
	k, ok := refkernels.Find(name)
	require.True(t, ok, "no reference for %s", name)
	cx, err := native.AllocSlice[float32]("test/ref-x", len(x))
	require.NoError(t, err)
	defer cx.Free()
	cy, err := native.AllocSlice[float32]("test/ref-y", ylen)
	require.NoError(t, err)
	defer cy.Free()
	copy(cx.Values(), x)
	for i := range cy.Values() {
		cy.Values()[i] = math.Float32frombits(poison * 0x01010101)
	}
	copy(cy.Values(), y)
	slots := []uint64{uint64(uintptr(cy.Ptr())), uint64(uintptr(cx.Ptr()))}
	for _, v := range scalars {
		slots = append(slots, uint64(math.Float32bits(v)))
	}
	slots = append(slots, uint64(len(x)))
	require.NoError(t, k.Launch(grid, block, slots))
	return append([]float32(nil), cy.Values()...)
}

// TestKernelsMatchReference runs every built-in kernel on fresh random
// inputs, with outputs poisoned before each launch, and compares the
// results bit for bit with the C reference on the same inputs. On a GPU
// (make gpu-test) this is the check that the CUDA and C code agree.
func TestKernelsMatchReference(t *testing.T) {
	defer leaktest.VerifyNone(t)
	s, err := shared.NewStream()
	require.NoError(t, err)
	defer s.Close()
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewPCG(seed, 1))
	for _, n := range []int{1, 255, 256, 1000, 65537} {
		x := make([]float32, n)
		y := make([]float32, n)
		for i := range x {
			x[i] = float32(r.NormFloat64() * 1000)
			y[i] = float32(r.NormFloat64())
		}
		grid, block := gridFor(n), uint32(blockSize)
		partials := int(grid)
		cases := []struct {
			name    string
			y       []float32
			scalars []float32
			ylen    int
		}{
			{"mb_scale_f32", nil, []float32{float32(r.NormFloat64())}, n},
			{"mb_axpy_f32", y, []float32{float32(r.NormFloat64())}, n},
			{"mb_affine_clamp_f32", nil, []float32{1.5, -20, -900, 1200}, n},
			{"mb_sum_f32", nil, nil, partials},
		}
		for _, c := range cases {
			got := launchVector(t, s, c.name, grid, block, x, c.y, c.scalars, c.ylen)
			want := reference(t, c.name, grid, block, x, c.y, c.scalars, c.ylen)
			if i := bitsEqual(got, want); i >= 0 {
				t.Errorf("%s n=%d: element %d is %v, the reference says %v", c.name, n, i, got[i], want[i])
			}
		}
	}
}

func TestWrappers(t *testing.T) {
	defer leaktest.VerifyNone(t)
	s, err := shared.NewStream()
	require.NoError(t, err)
	defer s.Close()
	x := []float32{-10, 0, 1, 2, 100, float32(math.NaN()), 3}
	dx, err := CloneHtoDOn(s, "test/wrap", x)
	require.NoError(t, err)
	defer dx.Free()
	dy, err := AllocSliceZeroed[float32](shared, "test/wrap", len(x))
	require.NoError(t, err)
	defer dy.Free()
	t1 := AffineClamp{A: 2, B: 1, Lo: 0, Hi: 10}
	require.NoError(t, t1.Apply(s, dy, dx))
	sum, err := Sum(s, dy)
	require.NoError(t, err)
	if want := float32(0 + 1 + 3 + 5 + 10 + 0 + 7); sum != want {
		t.Errorf("sum of the clamped values = %v, want %v", sum, want)
	}
	if err := Axpy(s, dy, dx, 0); err != nil { // y += 0*x: NaN*0 is NaN
		t.Fatal(err)
	}
	require.NoError(t, Scale(s, dx, dx, -1))
	got, err := CloneDtoH(dx)
	require.NoError(t, err)
	if got[0] != 10 || got[4] != -100 {
		t.Errorf("scaled: %v", got)
	}
	empty, err := AllocSlice[float32](shared, "test/wrap", 0)
	require.NoError(t, err)
	defer empty.Free()
	if sum, err := Sum(s, empty); err != nil || sum != 0 {
		t.Errorf("sum of nothing = %v, %v", sum, err)
	}
	// Bad input gets an error and launches nothing.
	short, _ := dx.View(0, 3)
	odd, _ := dx.Buffer().View(0, 5)
	checks := []struct {
		name string
		err  error
		want error
	}{
		{"scale length mismatch", Scale(s, dy, short, 1), ErrSizeMismatch},
		{"axpy length mismatch", Axpy(s, short, dy, 1), ErrSizeMismatch},
		{"not float32", Scale(s, odd, odd, 1), ErrSizeMismatch},
		{"empty range", AffineClamp{Lo: 1, Hi: 0}.Apply(s, dy, dx), ErrInvalidArgument},
		{"NaN range", AffineClamp{Lo: float32(math.NaN()), Hi: 0}.Apply(s, dy, dx), ErrInvalidArgument},
		{"nil stream", Scale(nil, dy, dx, 1), ErrInvalidArgument},
		{"sum of non-float32", func() error { _, err := Sum(s, odd); return err }(), ErrSizeMismatch},
	}
	for _, c := range checks {
		assert.True(t, errors.Is(c.err, c.want), "%s: got %v, want %v", c.name, c.err, c.want)
	}
}

func TestBadLaunch(t *testing.T) {
	defer leaktest.VerifyNone(t)
	f, err := shared.BuiltinFunction("mb_affine_clamp_f32")
	require.NoError(t, err)
	assert.EqualValues(t, "mb_affine_clamp_f32(device pointer, device pointer, float32, float32, float32, float32, 64-bit integer)", f.describe(), "parameters")
	s := shared.DefaultStream()
	y, err := AllocSlice[float32](shared, "test/bad", 4)
	require.NoError(t, err)
	defer y.Free()
	one := LaunchConfig{Grid: Dim3{X: 1}, Block: Dim3{X: 32}}
	n := uint64(4)
	cases := []struct {
		name string
		cfg  LaunchConfig
		args []any
	}{
		{"too few", one, []any{y, y, float32(1), float32(0), float32(0), float32(1)}},
		{"too many", one, []any{y, y, float32(1), float32(0), float32(0), float32(1), n, n}},
		{"float64 for float32", one, []any{y, y, 1.0, float32(0), float32(0), float32(1), n}},
		{"int for float32", one, []any{y, y, 1, float32(0), float32(0), float32(1), n}},
		{"buffer for the count", one, []any{y, y, float32(1), float32(0), float32(0), float32(1), y}},
		{"count for a pointer", one, []any{n, y, float32(1), float32(0), float32(0), float32(1), n}},
		{"int32 for the count", one, []any{y, y, float32(1), float32(0), float32(0), float32(1), int32(4)}},
		{"a Go slice", one, []any{[]float32{1}, y, float32(1), float32(0), float32(0), float32(1), n}},
		{"a string", one, []any{y, y, "1", float32(0), float32(0), float32(1), n}},
		{"block over 1024 threads", LaunchConfig{Block: Dim3{X: 64, Y: 32}}, []any{y, y, float32(1), float32(0), float32(0), float32(1), n}},
	}
	for _, c := range cases {
		assert.ErrorIs(t, f.Launch(s, c.cfg, c.args...), ErrBadLaunch, "%s", c.name)
	}
	freed, err := AllocSlice[float32](shared, "test/bad", 4)
	require.NoError(t, err)
	freed.Free()
	assert.ErrorIs(t, f.Launch(s, one, y, freed, float32(1), float32(0), float32(0), float32(1), n), ErrFreed, "launch with a freed buffer")
	assert.ErrorIs(t, f.Launch(nil, one), ErrInvalidArgument, "launch on a nil stream")
	if _, err := shared.BuiltinFunction("no_such_kernel"); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("unknown built-in: %v", err)
	}
}

func TestParseEntries(t *testing.T) {
	ptx := `
.visible .entry mb_scale_f32(
	.param .u64 mb_scale_f32_param_0,
	.param .u64 mb_scale_f32_param_1,
	.param .f32 mb_scale_f32_param_2,
	.param .u64 mb_scale_f32_param_3
)
.visible .entry other(
	.param .u32 other_param_0,
	.param .s64 other_param_1,
	.param .f64 other_param_2
)
.visible .entry noargs()
`
	got, err := parseEntries(ptx)
	require.NoError(t, err)
	want := map[string][]paramKind{
		"mb_scale_f32": {paramPtr, paramPtr, paramF32, paramU64},
		"other":        {paramB32, paramB64, paramF64},
		"noargs":       nil,
	}
	for name, kinds := range want {
		if g := got[name]; len(g) != len(kinds) || !equalKinds(g, kinds) {
			t.Errorf("%s: %v, want %v", name, g, kinds)
		}
	}
	for _, bad := range []string{
		"no entries here",
		".entry s(.param .align 4 .b8 s_param_0[12])",
		".entry h(.param .f16 h_param_0)",
	} {
		if _, err := parseEntries(bad); err == nil {
			t.Errorf("parseEntries(%q) succeeded", bad)
		}
	}
	assert.EqualValues(t, "mb_affine_clamp_f32 mb_axpy_f32 mb_scale_f32 mb_sum_f32", builtinNames(), "built-in kernels")
}

func equalKinds(a, b []paramKind) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestCommittedPTX checks what the generator promises: the first line says
// the file is generated and by which command, and every PTX declares its
// target.
func TestCommittedPTX(t *testing.T) {
	for _, cc := range [][2]int{{8, 0}, {9, 0}} {
		srcs, err := builtinModules(cc[0], cc[1])
		require.NoError(t, err)
		if len(srcs) == 0 {
			t.Fatal("no PTX embedded")
		}
		target := ".target sm_90"
		if cc[0] == 8 {
			target = ".target sm_80"
		}
		for _, src := range srcs {
			first, _, _ := strings.Cut(src, "\n")
			if !strings.HasPrefix(first, "// Code generated by cuda/kernels/gen.sh (nvcc -ptx -arch=") || !strings.HasSuffix(first, "DO NOT EDIT.") {
				t.Errorf("first line %q does not say how the PTX was generated", first)
			}
			assert.Contains(t, src, target, "PTX for %d.%d lacks %q", cc[0], cc[1], target)
		}
	}
	if _, err := builtinModules(7, 5); !errors.Is(err, ErrNotSupported) {
		t.Errorf("compute 7.5: %v, want ErrNotSupported", err)
	}
}

// underASan is set in -asan builds (asan_test.go).
var underASan bool

// A launch and a copy make no Go allocation of their own (the operands
// stay on the caller's stack, the argument slots too): a service that
// launches per request adds no garbage for the collector. Arguments boxed
// into `any` follow Go's rules; constants and small integers are free.
func TestLaunchAndCopyDoNotAllocate(t *testing.T) {
	if underASan {
		t.Skip("-asan builds move some stack values to the heap")
	}
	defer leaktest.VerifyNone(t)
	fn, err := shared.BuiltinFunction("mb_scale_f32")
	require.NoError(t, err)
	const n = 64
	y, err := AllocSliceZeroed[float32](shared, "test/noalloc", n)
	require.NoError(t, err)
	defer y.Free()
	x, err := AllocSliceZeroed[float32](shared, "test/noalloc", n)
	require.NoError(t, err)
	defer x.Free()
	s, err := shared.NewStream()
	require.NoError(t, err)
	defer s.Close()
	host := make([]float32, n)
	cfg := LaunchConfig{Grid: Dim3{X: 1}, Block: Dim3{X: n}}
	for name, f := range map[string]func() error{
		"launch":        func() error { return fn.Launch(shared.DefaultStream(), cfg, y, x, float32(2), uint64(n)) },
		"launch on s":   func() error { return fn.Launch(s, cfg, y, x, float32(2), uint64(n)) },
		"CopyHtoD":      func() error { return CopyHtoD(x, host) },
		"CopyDtoH":      func() error { return CopyDtoH(host, y) },
		"CopyDtoD on s": func() error { return CopyDtoDOn(s, y, x) },
		"Fill":          func() error { return Fill(y, 0) },
	} {
		require.NoError(t, f(), "%s", name)
		if got := testing.AllocsPerRun(20, func() { _ = f() }); got != 0 {
			t.Errorf("%s: %v Go allocations a call, want 0", name, got)
		}
	}
	require.NoError(t, s.Synchronize())
}
