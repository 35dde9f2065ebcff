package cuda

import (
	"fmt"
	"math/bits"
	"sort"
	"strings"

	"github.com/membridge/membridge/cuda/kernels"
)

// builtinModules returns the built-in PTX (package cuda/kernels) for a
// device of compute capability major.minor.
func builtinModules(major, minor int) ([]string, error) {
	srcs, ok := kernels.PTX(major, minor)
	if !ok {
		return nil, fmt.Errorf("compute capability %d.%d: the built-in kernels need 8.0 or later: %w", major, minor, ErrNotSupported)
	}
	return srcs, nil
}

// builtin returns a built-in kernel, loading the modules on first use. The
// caller must not be inside the context (enter).
func (c *Context) builtinFunction(name string) (*Function, error) {
	c.builtin.once.Do(func() {
		c.builtin.fns = map[string]*Function{}
		srcs, err := builtinModules(c.dev.Major, c.dev.Minor)
		if err != nil {
			c.builtin.err = err
			return
		}
		for _, src := range srcs {
			m, err := c.LoadModule(src)
			if err != nil {
				c.builtin.err = err
				return
			}
			for entry := range m.entries {
				f, err := m.Function(entry)
				if err != nil {
					c.builtin.err = err
					return
				}
				c.builtin.fns[entry] = f
			}
		}
	})
	if c.builtin.err != nil {
		return nil, within("built-in kernels", c.builtin.err)
	}
	f, ok := c.builtin.fns[name]
	if !ok {
		return nil, fmt.Errorf("cuda: no built-in kernel %q: %w", name, ErrInvalidArgument)
	}
	return f, nil
}

// BuiltinFunction returns one of the built-in kernels (mb_scale_f32,
// mb_axpy_f32, mb_affine_clamp_f32, mb_sum_f32), for launching directly.
func (c *Context) BuiltinFunction(name string) (*Function, error) {
	if err := c.notOpened(fmt.Sprintf("built-in kernel %q", name)); err != nil {
		return nil, err
	}
	return c.builtinFunction(name)
}

// blockSize is the block the wrappers launch; maxGrid caps their grids
// (the kernels loop over the rest).
const (
	blockSize = 256
	maxGrid   = 1024
)

func gridFor(n int) uint32 {
	return uint32(min(max((n+blockSize-1)/blockSize, 1), maxGrid))
}

// float32s returns how many float32 values m holds.
func float32s(op, what string, m DeviceMemory) (int, error) {
	if m == nil {
		return 0, fmt.Errorf("cuda: %s: nil %s: %w", op, what, ErrInvalidArgument)
	}
	if _, _, _, err := m.span(op); err != nil {
		return 0, err
	}
	if m.ByteLen()%4 != 0 {
		return 0, fmt.Errorf("cuda: %s: %s of %d bytes is not float32 values: %w", op, what, m.ByteLen(), ErrSizeMismatch)
	}
	return m.ByteLen() / 4, nil
}

// sameLen checks y and x, float32 values of the same count, and returns it.
func sameLen(op string, y, x DeviceMemory) (int, error) {
	ny, err := float32s(op, "y", y)
	if err != nil {
		return 0, err
	}
	nx, err := float32s(op, "x", x)
	if err != nil {
		return 0, err
	}
	if ny != nx {
		return 0, fmt.Errorf("cuda: %s: y has %d values, x %d: %w", op, ny, nx, ErrSizeMismatch)
	}
	return nx, nil
}

func launchBuiltin(s *Stream, name string, cfg LaunchConfig, args ...any) error {
	if s == nil {
		return fmt.Errorf("cuda: %s on a nil stream: %w", name, ErrInvalidArgument)
	}
	f, err := s.ctx.builtinFunction(name)
	if err != nil {
		return err
	}
	return f.Launch(s, cfg, args...)
}

// Scale queues y[i] = a*x[i] on s. y and x are float32 values of the same
// count; y may be x.
func Scale(s *Stream, y, x DeviceMemory, a float32) error {
	n, err := sameLen("scale", y, x)
	if err != nil {
		return err
	}
	return launchBuiltin(s, "mb_scale_f32", LaunchConfig{Grid: Dim3{X: gridFor(n)}, Block: Dim3{X: blockSize}}, y, x, a, uint64(n))
}

// Axpy queues y[i] = a*x[i] + y[i] on s (the product rounded before the
// add, as the C reference does).
func Axpy(s *Stream, y, x DeviceMemory, a float32) error {
	n, err := sameLen("axpy", y, x)
	if err != nil {
		return err
	}
	return launchBuiltin(s, "mb_axpy_f32", LaunchConfig{Grid: Dim3{X: gridFor(n)}, Block: Dim3{X: blockSize}}, y, x, a, uint64(n))
}

// AffineClamp is the example service's record transform: calibrate each
// raw reading with a gain and an offset, then clamp it to the valid range,
// y = min(max(A*x + B, Lo), Hi). A NaN reading becomes Lo.
type AffineClamp struct {
	A, B   float32 // gain and offset
	Lo, Hi float32 // the valid range, Lo <= Hi
}

// Apply queues y = t(x) on s, elementwise; y may be x.
func (t AffineClamp) Apply(s *Stream, y, x DeviceMemory) error {
	n, err := sameLen("affine clamp", y, x)
	if err != nil {
		return err
	}
	if !(t.Lo <= t.Hi) {
		return fmt.Errorf("cuda: affine clamp: range [%v, %v] is empty: %w", t.Lo, t.Hi, ErrInvalidArgument)
	}
	return launchBuiltin(s, "mb_affine_clamp_f32", LaunchConfig{Grid: Dim3{X: gridFor(n)}, Block: Dim3{X: blockSize}},
		y, x, t.A, t.B, t.Lo, t.Hi, uint64(n))
}

// Sum returns the sum of the float32 values in x, computed on s: one
// partial sum per block, then a one-block launch over the partials, in a
// fixed order of additions (the C reference's). It waits for s.
func Sum(s *Stream, x DeviceMemory) (float32, error) {
	n, err := float32s("sum", "x", x)
	if err != nil {
		return 0, err
	}
	if s == nil {
		return 0, fmt.Errorf("cuda: sum on a nil stream: %w", ErrInvalidArgument)
	}
	g := gridFor(n)
	scratch, err := AllocSliceOn[float32](s, "cuda/sum-scratch", int(g)+1)
	if err != nil {
		return 0, err
	}
	defer scratch.Free()
	partials, _ := scratch.View(0, int(g))
	total, _ := scratch.View(int(g), int(g)+1)
	if err := launchBuiltin(s, "mb_sum_f32", LaunchConfig{Grid: Dim3{X: g}, Block: Dim3{X: blockSize}}, partials, x, uint64(n)); err != nil {
		return 0, err
	}
	block := uint32(1) << bits.Len32(g-1) // the power of two >= g
	if err := launchBuiltin(s, "mb_sum_f32", LaunchConfig{Grid: Dim3{X: 1}, Block: Dim3{X: block}}, total, partials, uint64(g)); err != nil {
		return 0, err
	}
	var out [1]float32
	if err := CopyDtoHOn(s, out[:], total); err != nil {
		return 0, err
	}
	if err := s.Synchronize(); err != nil {
		return 0, err
	}
	return out[0], nil
}

// builtinNames lists the built-in kernels, for documentation and tests.
func builtinNames() string {
	srcs, _ := builtinModules(9, 0)
	var names []string
	for _, src := range srcs {
		e, _ := parseEntries(src)
		for n := range e {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return strings.Join(names, " ")
}
