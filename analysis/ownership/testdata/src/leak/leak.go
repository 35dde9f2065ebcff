package leak

import (
	"errors"
	"testing"

	"github.com/membridge/membridge/cache"
	"github.com/membridge/membridge/cext"
	"github.com/membridge/membridge/cuda"
	"github.com/membridge/membridge/handle"
	"github.com/membridge/membridge/native"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"owner"
)

func use([]byte) {}

// True positives.

func neverFreed() error {
	b, err := native.Alloc("x", 10) // want `leak: b \(native.Buffer, made by native.Alloc at leak.go:22\) is not freed or handed on at the return at leak.go:27`
	if err != nil {
		return err
	}
	use(b.Bytes())
	return nil
}

func freedOnOnePath(cond bool) {
	b, err := native.Alloc("x", 10) // want `leak: b .* at the end of the function .*; path: leak.go:32 false`
	if err != nil {
		return
	}
	if cond {
		b.Free()
	}
}

func discarded() {
	native.Adopt("x", nil, 1, native.FreeDeleter()) // want `leak: the native.Buffer made by native.Adopt is discarded`
}

func inLoop(n int) {
	for range n {
		s, err := native.AllocSliceZeroed[float32]("x", 4) // want `leak: s \(native.Slice`
		if err != nil {
			continue
		}
		_ = s.Values()
	}
}

func device(c *cuda.Context) {
	d, err := cuda.CloneHtoD(c, "x", []float32{1}) // want `leak: d \(cuda.DeviceSlice, made by cuda.CloneHtoD`
	if err != nil {
		return
	}
	p, _ := c.AllocPinned("pin", 8) // want `leak: p \(cuda.PinnedBuffer`
	_ = p.Bytes()
	_ = d.Len()
}

func handles() {
	h, err := handle.New("cb", 1) // want `leak: h \(handle.Handle`
	if err != nil {
		return
	}
	_ = h.Pointer()
	a := native.NewArena("req", 0) // want `leak: a \(native.Arena`
	_ = a.TryAlloc(8, 8)
}

func view(b *native.Buffer) {
	v, err := b.View(0, 4) // want `leak: v \(native.View`
	if err != nil {
		return
	}
	use(v.Bytes())
}

func errorPathLeak() error {
	a, err := native.Alloc("a", 1) // want `leak: a .* at the return at leak.go:90`
	if err != nil {
		return err
	}
	_ = a.Len()
	c, err := native.Alloc("c", 1)
	if err != nil {
		return err // a leaks here
	}
	c.Free()
	return a.Free()
}

func borrowed(c *cache.Cache[string]) {
	b, ok := c.Get("k") // want `leak: b .* made by cache.Cache.Get`
	if !ok {
		return
	}
	use(b.Bytes())
}

func borrowedOnly(b *native.Buffer) int { return owner.Look(b) }

func passedToBorrower() {
	b, _ := native.Alloc("x", 1) // want `leak: b`
	borrowedOnly(b)
	owner.Look(b)
}

// True negatives: freed on every path, or handed on.

func deferred() error {
	b, err := native.Alloc("x", 10)
	if err != nil {
		return err
	}
	defer b.Free()
	use(b.Bytes())
	return nil
}

func errEqualsNil() {
	b, err := native.Alloc("x", 10)
	if err == nil {
		defer b.Free()
	}
}

func nilHandle() {
	b, _ := native.Alloc("x", 10)
	if b == nil {
		return
	}
	b.Free()
}

func expectedFailure(t *testing.T) {
	_, err := native.Alloc("x", -1)
	if !errors.Is(err, errors.ErrUnsupported) {
		t.Fatalf("got %v", err)
	}
}

func fatalOnError(t *testing.T) {
	b, err := native.Alloc("x", 1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Free() })
}

func returned() (*native.Buffer, error) {
	b, err := native.Alloc("x", 10)
	if err != nil {
		return nil, err
	}
	return b, nil
}

type holder struct{ b *native.Buffer }

func stored(h *holder, m map[string]*native.Buffer, ch chan *native.Buffer) {
	b1, _ := native.Alloc("x", 1)
	h.b = b1
	b2, _ := native.Alloc("x", 1)
	m["k"] = b2
	b3, _ := native.Alloc("x", 1)
	ch <- b3
	b4, _ := native.Alloc("x", 1)
	_ = &holder{b: b4}
	b5, _ := native.Alloc("x", 1)
	go func() { b5.Free() }()
}

func takers(c *cache.Cache[string], p *owner.Pool) {
	b1, _ := cext.Alloc("x", 1)
	if _, err := cext.HandToC(b1); err != nil {
		b1.Free()
	}
	b2, _ := native.Alloc("x", 1)
	if err := c.Put("k", b2); err != nil {
		b2.Free()
	}
	b3, _ := native.Alloc("x", 1)
	owner.Keep(b3) // //membridge:owns
	b4, _ := native.Alloc("x", 1)
	p.Put(b4) // inferred: stores it
	b5, _ := native.Alloc("x", 1)
	local(b5) // inferred, in this package
}

func local(b *native.Buffer) { defer b.Free() }

func closureFrees() {
	b, _ := native.Alloc("x", 1)
	defer func() { b.Free() }()
}

func deferInLoop(n int) error {
	for range n {
		b, err := native.Alloc("x", 1)
		if err != nil {
			return err
		}
		defer b.Free()
	}
	return nil
}

func moved() (*native.Buffer, error) {
	b, err := native.Alloc("x", 1)
	if err != nil {
		return nil, err
	}
	nb, err := b.Move()
	if err != nil {
		b.Free()
		return nil, err
	}
	return nb, nil
}

func generic[T any](n int) (*native.Slice[T], error) {
	s, err := native.AllocSliceZeroed[T]("x", n)
	if err != nil {
		return nil, err
	}
	if s.Len() == 0 {
		s.Free()
		return nil, errors.New("empty")
	}
	return s, nil
}

func aliasFree() {
	s, _ := native.AllocSliceZeroed[int]("x", 1)
	b := s.Buffer()
	defer b.Free()
}

func contextOf(d *cuda.DeviceBuffer) {
	_ = d.Context() // not a new handle
}

func silenced() {
	b, _ := native.Alloc("x", 1) //membridge:ignore leak the test hands it to the safety net on purpose
	_ = b
}

func panics() {
	b, err := native.Alloc("x", 1)
	if err != nil {
		panic(err)
	}
	if b.Len() > 1 {
		panic("no")
	}
	b.Free()
}

func requireError(t *testing.T) {
	_, err := native.Alloc("x", -1)
	require.ErrorIs(t, err, errors.ErrUnsupported)
	_, err = native.Alloc("x", -1)
	require.Error(t, err)
}

func assertError(t *testing.T) {
	_, err := native.Alloc("x", -1)
	assert.ErrorIs(t, err, errors.ErrUnsupported)
}

func assertMiss(t *testing.T, c *cache.Cache[int]) {
	_, ok := c.Get(1)
	assert.False(t, ok)
}

func requireNoError(t *testing.T) {
	b, err := native.Alloc("x", 1) // want `leak: b`
	require.NoError(t, err)
	_ = b.Len()
}

func expectedFailureNonFatal(t *testing.T) {
	if _, err := native.Alloc("x", -1); err == nil {
		t.Error("Alloc of -1 bytes succeeded")
	}
}

func closureOnlyReads() {
	b, err := native.Alloc("x", 1) // want `leak: b`
	if err != nil {
		return
	}
	defer func() { _ = b.Len() }() // reads b, frees nothing
}

func closureFreesCapturedErr() (err error) {
	b, err := native.Alloc("x", 1)
	if err != nil {
		return err
	}
	defer func() {
		if e := b.Free(); err == nil {
			err = e
		}
	}()
	return nil
}

func closureCallsFree() {
	b, _ := native.Alloc("x", 1)
	free := func() { b.Free() }
	defer free()
}

func goroutinesFree() {
	b, _ := native.Alloc("x", 1)
	done := make(chan bool)
	for range 3 {
		go func() {
			b.Free()
			done <- true
		}()
	}
}

// A constructor of typed memory refuses an element type that holds Go
// pointers on every call (ErrPointerType, a nil handle): a test of that
// refusal that discards the handle leaks nothing. The same discard with an
// element type it accepts is a leak.
func refusedElementType() error {
	_, err := native.AllocSliceZeroed[*int]("x", 1)
	if _, err := native.AllocSliceZeroed[struct{ s string }]("x", 1); err == nil {
		return nil
	}
	errOf(native.AllocSlice[map[int]int]("x", 1))
	errOf(native.AllocSliceZeroed[int]("x", 1))        // want `leak: the native.Slice \(native.Slice, made by native.AllocSliceZeroed`
	_, err = native.AllocSliceZeroed[[2]int64]("x", 1) // want `leak: the native.Slice \(native.Slice, made by native.AllocSliceZeroed`
	return err
}

func refusedDeviceType(c *cuda.Context) error {
	_, err := cuda.CloneHtoD(c, "x", []any{1})
	if err != nil {
		return err
	}
	_, err = cuda.AllocSlice[float32](c, "x", 1) // want `leak: the cuda.DeviceSlice \(cuda.DeviceSlice, made by cuda.AllocSlice`
	return err
}

// A generic element type is known only where it is instantiated: the
// handle is followed.
func refusedGeneric[T any]() error {
	_, err := native.AllocSliceZeroed[T]("x", 1) // want `leak: the native.Slice`
	return err
}

func errOf[T any](_ *native.Slice[T], err error) error { return err }
