package cuda

import (
	"fmt"
	"math"
	"regexp"
	"strings"

	"github.com/membridge/membridge/cuda/internal/refkernels"
)

// A Module is PTX loaded into a context. Close unloads it; the context's
// Close unloads what is left. A nil or zero Module has no kernels:
// Function fails with ErrInvalidArgument, Close on nil does nothing.
type Module struct {
	ctx     *Context
	h       uintptr
	entries map[string][]paramKind
	closed  bool // guarded by ctx.mu
}

// paramKind is what a kernel parameter accepts.
type paramKind uint8

const (
	paramPtr paramKind = iota + 1 // a device pointer (.u64 known to be one)
	paramU64                      // a 64-bit integer (.u64 known not to be a pointer)
	paramB64                      // .u64/.s64/.b64 of unknown meaning: pointer or integer
	paramB32                      // .u32/.s32/.b32
	paramF32                      // .f32
	paramF64                      // .f64
)

func (k paramKind) String() string {
	return [...]string{"?", "device pointer", "64-bit integer", "device pointer or 64-bit integer",
		"32-bit integer", "float32", "float64"}[k]
}

var (
	entryRE = regexp.MustCompile(`\.entry\s+([A-Za-z_$][\w$]*)\s*\(([^)]*)\)`)
	paramRE = regexp.MustCompile(`\.param\s+(?:\.align\s+\d+\s+)?\.(\w+)\s+[\w$]+(\[\d+\])?`)
)

// parseEntries reads the kernels of a PTX module and their parameters.
func parseEntries(ptx string) (map[string][]paramKind, error) {
	out := map[string][]paramKind{}
	for _, m := range entryRE.FindAllStringSubmatch(ptx, -1) {
		name := m[1]
		var kinds []paramKind
		for _, p := range paramRE.FindAllStringSubmatch(m[2], -1) {
			if p[2] != "" {
				return nil, fmt.Errorf("kernel %s: parameter passed by value as an array (%s%s): %w", name, p[1], p[2], ErrNotSupported)
			}
			switch p[1] {
			case "u64", "s64", "b64":
				kinds = append(kinds, paramB64)
			case "u32", "s32", "b32":
				kinds = append(kinds, paramB32)
			case "f32":
				kinds = append(kinds, paramF32)
			case "f64":
				kinds = append(kinds, paramF64)
			default:
				return nil, fmt.Errorf("kernel %s: parameter of type .%s: %w", name, p[1], ErrNotSupported)
			}
		}
		if ref, ok := refkernels.Find(name); ok && len(ref.Params) == len(kinds) {
			// A reference kernel says which 64-bit parameters are pointers.
			for i, k := range ref.Params {
				switch {
				case k == refkernels.DevPtr && kinds[i] == paramB64:
					kinds[i] = paramPtr
				case k == refkernels.U64 && kinds[i] == paramB64:
					kinds[i] = paramU64
				}
			}
		}
		out[name] = kinds
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no .entry in the PTX: %w", ErrInvalidArgument)
	}
	return out, nil
}

// LoadModule loads PTX (as nvcc -ptx writes it) into the context. In the
// host backend only kernels with a C reference implementation can run: the
// module loads, and Function fails for the others.
func (c *Context) LoadModule(ptx string) (*Module, error) {
	entries, err := parseEntries(ptx)
	if err != nil {
		return nil, fmt.Errorf("cuda: load module: %w", err)
	}
	if err := c.enter("load module"); err != nil {
		return nil, err
	}
	defer c.exit()
	h, err := drvModuleLoad(c.h, ptx)
	if err != nil {
		return nil, fmt.Errorf("cuda: load module on device %d: %w", c.dev.Ordinal, err)
	}
	m := &Module{ctx: c, h: h, entries: entries}
	c.objects.Lock()
	c.objects.modules[m] = struct{}{}
	c.objects.Unlock()
	return m, nil
}

// Function looks up the kernel called name (its extern "C" name).
func (m *Module) Function(name string) (*Function, error) {
	if m == nil || m.ctx == nil {
		return nil, fmt.Errorf("cuda: function %q of a nil or zero Module (make modules with LoadModule): %w", name, ErrInvalidArgument)
	}
	kinds, ok := m.entries[name]
	if !ok {
		return nil, fmt.Errorf("cuda: function %q: not in the module: %w", name, ErrInvalidArgument)
	}
	c := m.ctx
	if err := c.enter("function"); err != nil {
		return nil, err
	}
	defer c.exit()
	if m.closed {
		return nil, fmt.Errorf("cuda: function %q: module unloaded: %w", name, ErrClosed)
	}
	h, err := drvModuleFunction(c.h, m.h, name)
	if err != nil {
		return nil, fmt.Errorf("cuda: function %q: %w", name, err)
	}
	return &Function{mod: m, name: name, op: "launch " + name, h: h, params: kinds}, nil
}

// Close unloads the module; its functions can no longer be launched. It is
// idempotent.
func (m *Module) Close() error {
	if m == nil {
		return nil
	}
	c := m.ctx
	if c == nil {
		return fmt.Errorf("cuda: close of a zero Module (make modules with LoadModule): %w", ErrInvalidArgument)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if m.closed || c.closed {
		return nil
	}
	c.objects.Lock()
	delete(c.objects.modules, m)
	c.objects.Unlock()
	return m.closeLocked()
}

func (m *Module) closeLocked() error {
	m.closed = true
	if err := drvModuleUnload(m.ctx.h, m.h); err != nil {
		return fmt.Errorf("cuda: unload module: %w", err)
	}
	return nil
}

// A Function is a kernel of a loaded module, from Module.Function or
// Context.BuiltinFunction. A nil or zero Function has no kernel: Name is
// "", NumParams 0, and Launch fails with ErrInvalidArgument.
type Function struct {
	mod    *Module
	name   string
	op     string // "launch NAME", made once: error paths name the operation
	h      uintptr
	params []paramKind
}

// Name returns the kernel's name.
func (f *Function) Name() string {
	if f == nil {
		return ""
	}
	return f.name
}

// NumParams returns the number of parameters the kernel takes.
func (f *Function) NumParams() int {
	if f == nil {
		return 0
	}
	return len(f.params)
}

// Dim3 is a grid or block shape. Zero fields count as 1.
type Dim3 struct{ X, Y, Z uint32 }

func (d Dim3) norm() Dim3 {
	return Dim3{max(d.X, 1), max(d.Y, 1), max(d.Z, 1)}
}

// LaunchConfig is the shape of a launch.
type LaunchConfig struct {
	Grid, Block Dim3
	SharedMem   uint32 // dynamic shared memory in bytes
}

// Launch queues the kernel on s with args, checked against the kernel's
// parameters: device memory (DeviceBuffer, DeviceSlice, views) or a
// DevicePtr for pointer parameters; uint64, int64, int or uint for 64-bit
// integers; uint32 or int32 for 32-bit ones; float32 and float64 for
// floating point. A wrong count or kind is ErrBadLaunch, and nothing runs.
// Each argument travels in an 8-byte slot. Memory used on a stream other
// than its own is recorded, so its free waits for the kernel.
//
// The kernel trusts its arguments as on any GPU: sizes it is given must
// match the memory (the typed wrappers such as Scale check them).
func (f *Function) Launch(s *Stream, cfg LaunchConfig, args ...any) error {
	if f == nil || f.mod == nil || s == nil {
		return fmt.Errorf("cuda: launch: nil or zero function, or nil stream: %w", ErrInvalidArgument)
	}
	if len(args) != len(f.params) {
		return fmt.Errorf("cuda: launch %s: %d arguments, the kernel takes %d: %w", f.name, len(args), len(f.params), ErrBadLaunch)
	}
	grid, block := cfg.Grid.norm(), cfg.Block.norm()
	if uint64(block.X)*uint64(block.Y)*uint64(block.Z) > 1024 {
		return fmt.Errorf("cuda: launch %s: block %dx%dx%d has more than 1024 threads: %w", f.name, block.X, block.Y, block.Z, ErrBadLaunch)
	}
	var slotArr [8]uint64
	slots := slotArr[:0]
	var memArr [4]DeviceMemory
	var memSlotArr [4]int
	mems, memSlot := memArr[:0], memSlotArr[:0]
	for i, arg := range args {
		want := f.params[i]
		var v uint64
		ok := true
		switch x := arg.(type) {
		case DeviceMemory:
			ok = want == paramPtr || want == paramB64
			mems = append(mems, x)
			memSlot = append(memSlot, i)
		case DevicePtr:
			ok, v = want == paramPtr || want == paramB64, uint64(x)
		case uint64:
			ok, v = want == paramU64 || want == paramB64, x
		case int64:
			ok, v = want == paramU64 || want == paramB64, uint64(x)
		case int:
			ok, v = want == paramU64 || want == paramB64, uint64(x)
		case uint:
			ok, v = want == paramU64 || want == paramB64, uint64(x)
		case uint32:
			ok, v = want == paramB32, uint64(x)
		case int32:
			ok, v = want == paramB32, uint64(uint32(x))
		case float32:
			ok, v = want == paramF32, uint64(math.Float32bits(x))
		case float64:
			ok, v = want == paramF64, math.Float64bits(x)
		default:
			return fmt.Errorf("cuda: launch %s: argument %d is a %T, which cannot be passed to a kernel: %w", f.name, i, arg, ErrBadLaunch)
		}
		if !ok {
			return fmt.Errorf("cuda: launch %s: argument %d is a %T, parameter %d takes a %s: %w", f.name, i, arg, i, want, ErrBadLaunch)
		}
		slots = append(slots, v)
	}
	c := f.mod.ctx
	var o operands
	if len(mems) > 0 {
		if err := o.begin(f.op, s, -1, mems...); err != nil {
			return err
		}
		if o.c != c {
			o.c.exit()
			return fmt.Errorf("cuda: launch %s: memory of device %d with a module of device %d: %w", f.name, o.c.dev.Ordinal, c.dev.Ordinal, ErrWrongContext)
		}
		for j, i := range memSlot {
			slots[i] = uint64(o.ptr(j))
		}
	} else {
		if err := c.enter(f.op); err != nil {
			return err
		}
		o.c = c
	}
	err := s.usable(c, f.op)
	if err == nil && f.mod.closed {
		err = fmt.Errorf("cuda: launch %s: module unloaded: %w", f.name, ErrClosed)
	}
	if err == nil {
		err = drvLaunch(c.h, f.h, grid, block, cfg.SharedMem, s.h, slots)
	}
	if err = o.end(s, err); err != nil {
		return fmt.Errorf("cuda: launch %s grid %v block %v: %w", f.name, grid, block, err)
	}
	return nil
}

// describe lists a function's parameters, for messages and tests.
func (f *Function) describe() string {
	parts := make([]string, len(f.params))
	for i, p := range f.params {
		parts[i] = p.String()
	}
	return f.name + "(" + strings.Join(parts, ", ") + ")"
}
