package gopointer

import (
	"github.com/membridge/membridge/cuda"
	"github.com/membridge/membridge/native"
)

type record struct {
	ID   int64
	Name string
}

type point struct{ X, Y float32 }

type nested struct {
	P [2]point
	Q [0]*int
}

func f(c *cuda.Context, a *native.Arena) {
	native.AllocSliceZeroed[*int]("x", 1)   // want `gopointer: native.AllocSliceZeroed\[\*int\]: \*int holds a Go pointer at \*int \(a pointer\)`
	native.AllocSliceZeroed[record]("x", 1) // want `gopointer: native.AllocSliceZeroed\[record\]: record holds a Go pointer at record.Name \(a string\)`
	native.AllocSlice[[]byte]("x", 1)       // want `a slice`
	native.MakeSliceIn[map[int]int](a, 1)   // want `a map`
	native.NewIn[func()](a)                 // want `a func`
	cuda.AllocSlice[any](c, "x", 1)         // want `gopointer: cuda.AllocSlice\[any\]: .* \(a interface\)`
	cuda.CloneHtoD(c, "x", []chan int{nil}) // want `a chan`
	cuda.CopyHtoD(nil, []*point{nil})       // want `a pointer`

	native.AllocSliceZeroed[point]("x", 1)
	native.AllocSliceZeroed[nested]("x", 1)
	native.NewIn[[4]float64](a)
	cuda.CloneHtoD(c, "x", []float32{1})
	native.AllocSliceZeroed[*int]("x", 1) //membridge:ignore gopointer the test checks the run-time refusal
}

func generic[T any](c *cuda.Context) {
	cuda.AllocSlice[T](c, "x", 1) // checked where generic is instantiated with a type
}
