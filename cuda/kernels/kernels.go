// Package kernels holds membridge's built-in CUDA kernels: their sources
// (NAME.cu) and the PTX gen.sh compiles from them, committed and embedded
// here: NAME.sm_90.ptx for compute capability 9.0 and later,
// NAME.compute_80.ptx (JIT-compiled by the driver) for 8.x. Package cuda
// loads them into a context on first use (Context.BuiltinFunction) and
// launches them for Scale, Axpy, AffineClamp and Sum. Each kernel has a C
// reference (cuda/internal/refkernels, kernels.h is the contract) that
// package cuda's tests hold it to, bit for bit.
package kernels

import (
	"embed"
	"io/fs"
	"sort"
)

//go:generate sh gen.sh

//go:embed *.ptx
var ptx embed.FS

// PTX returns the built-in modules' PTX for a device of compute capability
// major.minor, one module per source file in the order of their names, and
// false for a device older than 8.0, for which there is none.
func PTX(major, minor int) ([]string, bool) {
	suffix := ".sm_90.ptx"
	switch {
	case major < 8:
		return nil, false
	case major < 9:
		suffix = ".compute_80.ptx"
	}
	names, err := fs.Glob(ptx, "*"+suffix)
	if err != nil {
		panic("kernels: " + err.Error()) // the pattern is a constant
	}
	sort.Strings(names)
	out := make([]string, 0, len(names))
	for _, n := range names {
		b, err := ptx.ReadFile(n)
		if err != nil {
			panic("kernels: embedded " + n + ": " + err.Error()) // listed by Glob above
		}
		out = append(out, string(b))
	}
	return out, true
}
