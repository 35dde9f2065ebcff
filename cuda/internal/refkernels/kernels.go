// Package refkernels holds the CPU reference implementations of membridge's
// built-in CUDA kernels (cuda/kernels/*.cu), written in C and called the
// way cuLaunchKernel calls a kernel. Package cuda's host backend runs
// kernels with them, the stand-in driver (cuda/fakecuda) links them to run
// launches, and tests compare GPU results with them and with the
// known-answer Vectors. kernels.h is the contract. The package is internal
// to cuda: the references and their vectors are no part of membridge's API.
package refkernels

// #cgo CFLAGS: -Wall -Wextra -O2
// #cgo LDFLAGS: -lm
// /* mbref_launch_slots runs the kernel to the end, keeps no pointer to the
//    slots and never calls back into Go: they stay on the caller's stack. */
// #cgo noescape mbref_launch_slots
// #cgo nocallback mbref_launch_slots
// #include <stdlib.h>
// #include "kernels.h"
// static const struct mbref_kernel *kernel_at(int i) { return &mbref_kernels[i]; }
import "C"

import (
	"errors"
	"fmt"
	"math"
	"unsafe"
)

// ParamKind is the kind of one kernel parameter.
type ParamKind int

// The parameter kinds kernels.h knows.
const (
	DevPtr ParamKind = C.MBREF_PARAM_DEVPTR // a device pointer (CUdeviceptr, 8 bytes)
	F32    ParamKind = C.MBREF_PARAM_F32    // a float32
	U64    ParamKind = C.MBREF_PARAM_U64    // a uint64
)

func (k ParamKind) String() string {
	switch k {
	case DevPtr:
		return "device pointer"
	case F32:
		return "float32"
	case U64:
		return "uint64"
	}
	return fmt.Sprintf("ParamKind(%d)", int(k))
}

// MaxBlock is the largest block (threads per block) a reference kernel
// accepts; mb_sum_f32 also needs a power of two.
const MaxBlock = C.MBREF_MAX_BLOCK

// ErrBadLaunch means the launch shape or the argument count is one the kernel
// does not support.
var ErrBadLaunch = errors.New("kernels: unsupported launch")

// A Kernel is one reference kernel.
type Kernel struct {
	Name   string      // the PTX entry name
	Params []ParamKind // the kind of each parameter, in order
	c      *C.struct_mbref_kernel
}

var all = func() map[string]*Kernel {
	m := map[string]*Kernel{}
	for i := 0; ; i++ {
		ck := C.kernel_at(C.int(i))
		if ck.name == nil {
			return m
		}
		k := &Kernel{Name: C.GoString(ck.name), c: ck}
		for j := 0; j < int(ck.nparams); j++ {
			k.Params = append(k.Params, ParamKind(ck.kinds[j]))
		}
		m[k.Name] = k
	}
}()

// Find returns the reference kernel called name.
func Find(name string) (*Kernel, bool) {
	k, ok := all[name]
	return k, ok
}

// Names returns the names of all reference kernels.
func Names() []string {
	out := make([]string, 0, len(all))
	for n := range all {
		out = append(out, n)
	}
	return out
}

// Launch runs the kernel on the CPU as a 1-D launch of grid blocks of block
// threads. slots holds one argument per parameter, each in 8 bytes: a
// device pointer as the host address of C memory, a float32 in the low 4
// bytes (math.Float32bits), a uint64 as itself. The addresses must point at
// C memory large enough for what the kernel reads and writes: the reference
// trusts them as the GPU would.
func (k *Kernel) Launch(grid, block uint32, slots []uint64) error {
	if len(slots) != len(k.Params) {
		return fmt.Errorf("kernels: %s takes %d arguments, got %d: %w", k.Name, len(k.Params), len(slots), ErrBadLaunch)
	}
	var p *C.uint64_t
	if len(slots) > 0 {
		p = (*C.uint64_t)(unsafe.Pointer(&slots[0]))
	}
	if C.mbref_launch_slots(k.c, C.unsigned(grid), C.unsigned(block), p, C.int(len(slots))) != C.MBREF_OK {
		return fmt.Errorf("kernels: %s with grid %d, block %d: %w", k.Name, grid, block, ErrBadLaunch)
	}
	return nil
}

// Run launches k on copies of x and y in C memory, as Launch does, and
// returns what the copy of y holds afterwards: y is the output (mb_sum_f32:
// the partials), and mb_axpy_f32 reads it too. The arguments go in the
// order of k.Params: the device pointers y then x, the float32 parameters
// from scalars in order, the uint64 parameter len(x).
func (k *Kernel) Run(grid, block uint32, x, y, scalars []float32) ([]float32, error) {
	cx, cy := cFloats(x), cFloats(y)
	defer C.free(unsafe.Pointer(cx))
	defer C.free(unsafe.Pointer(cy))
	ptrs := []*C.float{cy, cx}
	var slots []uint64
	for _, p := range k.Params {
		switch {
		case p == DevPtr && len(ptrs) > 0:
			slots = append(slots, uint64(uintptr(unsafe.Pointer(ptrs[0]))))
			ptrs = ptrs[1:]
		case p == F32 && len(scalars) > 0:
			slots = append(slots, uint64(math.Float32bits(scalars[0])))
			scalars = scalars[1:]
		case p == U64:
			slots = append(slots, uint64(len(x)))
		default:
			return nil, fmt.Errorf("kernels: %s: more %s parameters than Run was given values for: %w", k.Name, p, ErrBadLaunch)
		}
	}
	if err := k.Launch(grid, block, slots); err != nil {
		return nil, err
	}
	return append([]float32(nil), unsafe.Slice((*float32)(unsafe.Pointer(cy)), len(y))...), nil
}

// cFloats copies v into C memory (at least one element, so never NULL).
func cFloats(v []float32) *C.float {
	p := (*C.float)(C.malloc(C.size_t(max(len(v), 1) * 4)))
	if p == nil {
		panic("refkernels: out of C memory")
	}
	copy(unsafe.Slice((*float32)(unsafe.Pointer(p)), len(v)), v)
	return p
}
