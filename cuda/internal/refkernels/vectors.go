package refkernels

import "math"

// A Vector is a known answer for one kernel launch: the reference tests in
// this package and package cuda's tests (on every backend, and on a GPU)
// check their results against the same vectors.
type Vector struct {
	Kernel      string
	Grid, Block uint32
	X           []float32 // the input
	Y           []float32 // what the output holds before the launch (axpy reads it)
	Scalars     []float32 // a; for mb_affine_clamp_f32: a, b, lo, hi
	Want        []float32 // the output after the launch (mb_sum_f32: the partials)
}

var nan = float32(math.NaN())

func iota1(n int) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = float32(i + 1)
	}
	return out
}

// Vectors are the known-answer vectors. Every value is exact in float32, so
// the answers hold on any IEEE machine regardless of summation order.
var Vectors = []Vector{
	{Kernel: "mb_scale_f32", Grid: 1, Block: 32,
		X: []float32{1, -2, 0.5, 3e38, 0}, Y: make([]float32, 5),
		Scalars: []float32{2}, Want: []float32{2, -4, 1, float32(math.Inf(1)), 0}},
	{Kernel: "mb_scale_f32", Grid: 2, Block: 2, // grid-stride: 4 threads over 7 elements
		X: iota1(7), Y: make([]float32, 7),
		Scalars: []float32{-0.5}, Want: []float32{-0.5, -1, -1.5, -2, -2.5, -3, -3.5}},
	{Kernel: "mb_axpy_f32", Grid: 1, Block: 64,
		X: []float32{1, 2, 3}, Y: []float32{10, 20, 30},
		Scalars: []float32{0.5}, Want: []float32{10.5, 21, 31.5}},
	{Kernel: "mb_affine_clamp_f32", Grid: 3, Block: 1,
		X: []float32{-10, 0, 1, 2, 100, nan}, Y: make([]float32, 6),
		Scalars: []float32{2, 1, 0, 10}, Want: []float32{0, 1, 3, 5, 10, 0}},
	{Kernel: "mb_sum_f32", Grid: 4, Block: 64,
		X: iota1(1000), Y: make([]float32, 4),
		Want: sumPartials(iota1(1000), 4, 64)},
	{Kernel: "mb_sum_f32", Grid: 1, Block: 4,
		X: []float32{1, 2, 3, 4, 5}, Y: make([]float32, 1),
		Want: []float32{15}},
}

// sumPartials computes mb_sum_f32's partials in float64: exact for the
// small integers the vectors use.
func sumPartials(x []float32, grid, block int) []float32 {
	out := make([]float32, grid)
	for i, v := range x {
		out[(i/block)%grid] += v
	}
	return out
}
