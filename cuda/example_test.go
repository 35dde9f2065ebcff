package cuda_test

import (
	"errors"
	"fmt"

	"github.com/membridge/membridge/cuda"
)

func ExampleOpen() {
	c, err := cuda.Open(0)
	if err != nil {
		fmt.Println(err) // no GPU, or no driver (cuda build)
		return
	}
	defer c.Close()
	d := c.Device()
	fmt.Println(d.TotalMemory > 0, d.Major >= 8)
	// Output: true true
}

func ExampleDevices() {
	devs, err := cuda.Devices()
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(len(devs) > 0, devs[0].Ordinal)
	// Output: true 0
}

func ExampleCloneHtoD() {
	c, _ := cuda.Open(0)
	defer c.Close()
	d, err := cuda.CloneHtoD(c, "example/readings", []float32{1, 2, 3})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer d.Free()
	back, _ := cuda.CloneDtoH(d)
	fmt.Println(d.Len(), back)
	// Output: 3 [1 2 3]
}

func ExampleCopyHtoD() {
	c, _ := cuda.Open(0)
	defer c.Close()
	d, _ := cuda.AllocSlice[int32](c, "example/ids", 4)
	defer d.Free()
	fmt.Println(cuda.CopyHtoD(d, []int32{7, 8, 9, 10}))
	err := cuda.CopyHtoD(d, []int32{1, 2}) // sizes must match
	fmt.Println(errors.Is(err, cuda.ErrSizeMismatch))
	out := make([]int32, 4)
	fmt.Println(cuda.CopyDtoH(out, d), out)
	// Output:
	// <nil>
	// true
	// <nil> [7 8 9 10]
}

func ExampleDeviceSlice_View() {
	c, _ := cuda.Open(0)
	defer c.Close()
	d, _ := cuda.CloneHtoD(c, "example/view", []uint16{10, 20, 30, 40})
	mid, _ := d.View(1, 3)
	out := make([]uint16, mid.Len())
	cuda.CopyDtoH(out, mid)
	fmt.Println(out)
	d.Free()
	fmt.Println(errors.Is(cuda.CopyDtoH(out, mid), cuda.ErrFreed)) // a view cannot outlive its owner
	// Output:
	// [20 30]
	// true
}

func ExampleContext_Alloc() {
	c, _ := cuda.Open(0)
	defer c.Close()
	b, err := c.Alloc("example/scratch", 1<<20)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(b.Len(), b.Snapshot().Bytes)
	//membridge:ignore doublefree the example shows that a second Free returns ErrFreed
	fmt.Println(b.Free(), errors.Is(b.Free(), cuda.ErrFreed))
	// Output:
	// 1048576 1048576
	// <nil> true
}

func ExampleStream_Alloc() {
	c, _ := cuda.Open(0)
	defer c.Close()
	s, _ := c.NewStream()
	defer s.Close()
	b, _ := s.Alloc("example/batch", 4096) // from the device's pool, ordered on s
	defer b.Free()                         // the free is ordered on s too
	fmt.Println(cuda.FillOn(s, b, 0), s.Synchronize())
	// Output: <nil> <nil>
}

func ExampleContext_AllocPinned() {
	c, _ := cuda.Open(0)
	defer c.Close()
	p, _ := c.AllocPinned("example/staging", 16)
	defer p.Free()
	vals := cuda.PinnedValues[float32](p)
	copy(vals, []float32{1, 2, 3, 4})
	s, _ := c.NewStream()
	defer s.Close()
	d, _ := cuda.CloneHtoDOn(s, "example/staged", vals) // asynchronous: pinned source
	defer d.Free()
	cuda.Scale(s, d, d, 0.5)
	cuda.CopyDtoHOn(s, vals, d)
	s.Synchronize()
	fmt.Println(vals)
	// Output: [0.5 1 1.5 2]
}

// The example service's pipeline: calibrate a batch of raw readings
// (gain, offset), clamp them to the sensor's range, and sum them.
func ExampleAffineClamp_Apply() {
	c, _ := cuda.Open(0)
	defer c.Close()
	s, _ := c.NewStream()
	defer s.Close()
	raw, _ := cuda.CloneHtoDOn(s, "example/raw", []float32{-3, 0.5, 2, 40})
	defer raw.Free()
	calibrate := cuda.AffineClamp{A: 2, B: 1, Lo: 0, Hi: 10}
	if err := calibrate.Apply(s, raw, raw); err != nil { // in place
		fmt.Println(err)
		return
	}
	total, err := cuda.Sum(s, raw)
	fmt.Println(total, err)
	// Output: 17 <nil>
}

func ExampleSum() {
	c, _ := cuda.Open(0)
	defer c.Close()
	x, _ := cuda.CloneHtoD(c, "example/sum", []float32{1, 2, 3, 4, 5})
	defer x.Free()
	total, _ := cuda.Sum(c.DefaultStream(), x)
	fmt.Println(total)
	// Output: 15
}

func ExampleAxpy() {
	c, _ := cuda.Open(0)
	defer c.Close()
	s := c.DefaultStream()
	x, _ := cuda.CloneHtoD(c, "example/x", []float32{1, 2, 3})
	defer x.Free()
	y, _ := cuda.CloneHtoD(c, "example/y", []float32{10, 20, 30})
	defer y.Free()
	cuda.Axpy(s, y, x, 2)
	out, _ := cuda.CloneDtoH(y)
	fmt.Println(out)
	// Output: [12 24 36]
}

func ExampleFunction_Launch() {
	c, _ := cuda.Open(0)
	defer c.Close()
	f, _ := c.BuiltinFunction("mb_scale_f32") // or LoadModule(ptx) and Function(name)
	fmt.Println(f.Name(), f.NumParams())
	x, _ := cuda.CloneHtoD(c, "example/launch", []float32{1, 2, 3})
	defer x.Free()
	cfg := cuda.LaunchConfig{Grid: cuda.Dim3{X: 1}, Block: cuda.Dim3{X: 32}}
	err := f.Launch(c.DefaultStream(), cfg, x, x, float32(3), uint64(x.Len()))
	out, _ := cuda.CloneDtoH(x)
	fmt.Println(err, out)
	err = f.Launch(c.DefaultStream(), cfg, x, x, 3.0, uint64(x.Len())) // float64 for a float32 parameter
	fmt.Println(errors.Is(err, cuda.ErrBadLaunch))
	// Output:
	// mb_scale_f32 4
	// <nil> [3 6 9]
	// true
}

func ExampleStream_Record() {
	c, _ := cuda.Open(0)
	defer c.Close()
	producer, _ := c.NewStream()
	defer producer.Close()
	consumer, _ := c.NewStream()
	defer consumer.Close()
	x, _ := cuda.CloneHtoDOn(producer, "example/event", []float32{4})
	defer x.Free()
	done, _ := producer.Record()
	defer done.Close()
	consumer.Wait(done) // the consumer's later work sees the copy
	out := make([]float32, 1)
	cuda.CopyDtoHOn(consumer, out, x)
	consumer.Synchronize()
	fmt.Println(out)
	// Output: [4]
}

func ExampleContext_Close() {
	c, _ := cuda.Open(0)
	//membridge:ignore leak the example shows that Close frees the buffers still allocated on the context
	b, _ := c.Alloc("example/closed", 64)
	c.Close() // frees b's memory
	fmt.Println(errors.Is(b.Err(), cuda.ErrClosed))
	// Output: true
}

func ExampleCacheLimit() {
	// A service that allocates per request keeps up to 256 MiB of the
	// device memory it frees, to hand out again without a driver call.
	c, err := cuda.Open(0, cuda.CacheLimit(256<<20))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	b, err := c.Alloc("example/request", 4096)
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := b.Free(); err != nil { // kept for the next request
		fmt.Println(err)
	}
	fmt.Println(c.CachedBytes() <= 256<<20)
	// Output: true
}

func ExampleContext_EmptyCache() {
	c, err := cuda.Open(0)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	b, err := c.Alloc("example/batch", 1<<20)
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := b.Free(); err != nil {
		fmt.Println(err)
	}
	// Before handing the device to another process, give the cached
	// memory back to the driver.
	freed, err := c.EmptyCache()
	fmt.Println(err, freed >= 0, c.CachedBytes())
	// Output: <nil> true 0
}
