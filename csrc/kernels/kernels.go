// Package kernels holds the CPU reference implementations of membridge's
// CUDA kernels (cuda/kernels/*.cu), written in C and called the way
// cuLaunchKernel calls a kernel. Package cuda's host backend runs kernels
// with them, the stand-in driver used in CI links them to run launches,
// and tests compare GPU results with them. kernels.h is the contract.
package kernels

// #cgo CFLAGS: -Wall -Wextra -O2
// #cgo LDFLAGS: -lm
// /* mbref_launch_slots runs the kernel to the end, keeps no pointer to the
//    slots and never calls back into Go: they stay on the caller's stack. */
// #cgo noescape mbref_launch_slots
// #cgo nocallback mbref_launch_slots
// #include "kernels.h"
// static const struct mbref_kernel *kernel_at(int i) { return &mbref_kernels[i]; }
import "C"

import (
	"errors"
	"fmt"
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
