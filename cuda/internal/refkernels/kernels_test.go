package refkernels

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/membridge/membridge/tracker/leaktest"
)

func TestMain(m *testing.M) { leaktest.VerifyTestMain(m) }

func same(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return false
		}
	}
	return true
}

func TestVectors(t *testing.T) {
	defer leaktest.VerifyNone(t)
	for _, v := range Vectors {
		k, ok := Find(v.Kernel)
		if !ok {
			t.Fatalf("no reference kernel %s", v.Kernel)
		}
		got, err := k.Run(v.Grid, v.Block, v.X, v.Y, v.Scalars)
		if err != nil {
			t.Errorf("%s grid %d block %d: %v", v.Kernel, v.Grid, v.Block, err)
			continue
		}
		if !same(got, v.Want) {
			t.Errorf("%s grid %d block %d: got %v, want %v", v.Kernel, v.Grid, v.Block, got, v.Want)
		}
	}
}

// TestElementwiseAgainstGo checks the elementwise kernels on random inputs
// against the formula written in Go, which rounds each operation to float32
// as the kernels do.
func TestElementwiseAgainstGo(t *testing.T) {
	defer leaktest.VerifyNone(t)
	r := rand.New(rand.NewPCG(1, 2))
	n := 1000
	x := make([]float32, n)
	y := make([]float32, n)
	for i := range x {
		x[i] = float32(r.NormFloat64() * 100)
		y[i] = float32(r.NormFloat64())
	}
	a, b, lo, hi := float32(1.7), float32(-3.25), float32(-50), float32(80)
	cases := []struct {
		kernel  string
		scalars []float32
		want    func(i int) float32
	}{
		{"mb_scale_f32", []float32{a}, func(i int) float32 { return a * x[i] }},
		{"mb_axpy_f32", []float32{a}, func(i int) float32 { p := a * x[i]; return p + y[i] }},
		{"mb_affine_clamp_f32", []float32{a, b, lo, hi}, func(i int) float32 {
			p := a * x[i]
			v := p + b
			return min(max(v, lo), hi)
		}},
	}
	for _, c := range cases {
		k, _ := Find(c.kernel)
		got, err := k.Run(3, 128, x, y, c.scalars)
		if err != nil {
			t.Fatal(err)
		}
		for i := range got {
			if w := c.want(i); math.Float32bits(got[i]) != math.Float32bits(w) {
				t.Fatalf("%s[%d] = %v, want %v", c.kernel, i, got[i], w)
			}
		}
	}
}

func TestSumTwoPasses(t *testing.T) {
	defer leaktest.VerifyNone(t)
	k, _ := Find("mb_sum_f32")
	x := iota1(100000) // sum 5000050000 is not exact in float32: compare loosely
	partials, err := k.Run(8, 256, x, make([]float32, 8), nil)
	if err != nil {
		t.Fatal(err)
	}
	total, err := k.Run(1, 8, partials, make([]float32, 1), nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := 5000050000.0; math.Abs(float64(total[0])-want)/want > 1e-6 {
		t.Fatalf("sum = %v, want about %v", total[0], want)
	}
}

func TestBadLaunch(t *testing.T) {
	defer leaktest.VerifyNone(t)
	sum, _ := Find("mb_sum_f32")
	scale, _ := Find("mb_scale_f32")
	cases := []struct {
		name        string
		k           *Kernel
		grid, block uint32
		slots       []uint64
	}{
		{"sum block not a power of two", sum, 1, 3, make([]uint64, 3)},
		{"sum block too large", sum, 1, 2048, make([]uint64, 3)},
		{"empty grid", scale, 0, 32, make([]uint64, 4)},
		{"empty block", scale, 1, 0, make([]uint64, 4)},
		{"too few arguments", scale, 1, 32, make([]uint64, 3)},
		{"too many arguments", scale, 1, 32, make([]uint64, 5)},
	}
	for _, c := range cases {
		// All-zero slots: a kernel that ran would dereference NULL.
		if err := c.k.Launch(c.grid, c.block, c.slots); !errors.Is(err, ErrBadLaunch) {
			t.Errorf("%s: got %v, want ErrBadLaunch", c.name, err)
		}
	}
}

func TestNames(t *testing.T) {
	names := Names()
	slices.Sort(names)
	want := []string{"mb_affine_clamp_f32", "mb_axpy_f32", "mb_scale_f32", "mb_sum_f32"}
	if !slices.Equal(names, want) {
		t.Fatalf("Names() = %v, want %v", names, want)
	}
}

func ExampleKernel_Launch() {
	k, _ := Find("mb_scale_f32")
	fmt.Println(k.Name, k.Params)
	// Output: mb_scale_f32 [device pointer device pointer float32 uint64]
}
