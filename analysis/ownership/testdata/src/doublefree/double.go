package doublefree

import (
	"errors"
	"testing"

	"github.com/membridge/membridge/cache"
	"github.com/membridge/membridge/native"
	"github.com/stretchr/testify/assert"
)

// True positives.

func twice() {
	b, _ := native.Alloc("x", 10)
	b.Free()
	b.Free() // want `doublefree: b.Free: b \(made by native.Alloc at double.go:15\) was already freed at double.go:16 on every path here`
}

func closeThenFree() {
	s, _ := native.AllocSliceZeroed[int]("x", 10)
	s.Close()
	s.Free() // want `doublefree: s.Free: .* already freed`
}

func afterMove() *native.Buffer {
	b, _ := native.Alloc("x", 10)
	nb, _ := b.Move()
	b.Free() // want `doublefree: b.Free: .* invalidated by Move`
	return nb
}

func borrowedFreed(c *cache.Cache[int]) {
	b, ok := c.Get(1)
	if !ok {
		return
	}
	b.Free() // want `doublefree: b.Free: b is a reference borrowed from cache.Cache.Get at double.go:34; give it back with Release, not Free`
}

func viewReleasedTwice(b *native.Buffer) {
	v, _ := b.View(0, 1)
	v.Release()
	v.Release() // want `doublefree: v.Release`
}

// True negatives.

func deferAndExplicit() error {
	b, _ := native.Alloc("x", 10)
	defer b.Free()
	return b.Free()
}

func branches(cond bool) {
	b, _ := native.Alloc("x", 10)
	if cond {
		b.Free()
	}
	b.Free() // not on every path: the second Free is not always a double one
}

func shared() {
	b, _ := native.Alloc("x", 10)
	b.Retain()
	b.Release()
	b.Release()
}

func borrowedReleased(c *cache.Cache[int]) {
	b, ok := c.Get(1)
	if ok {
		b.Release()
	}
}

func loop(n int) {
	for range n {
		b, _ := native.Alloc("x", 10)
		b.Free()
	}
}

func firstFreeFailed(t *testing.T) {
	b, _ := native.Alloc("x", 10)
	if err := b.Free(); !errors.Is(err, errors.ErrUnsupported) {
		t.Fatal(err)
	}
	b.Free() // the first Free failed, as the test checked
	c, _ := native.Alloc("x", 10)
	assert.ErrorIs(t, c.Free(), errors.ErrUnsupported)
	c.Free()
}

// Free with options is a Free like any other.
func revokedThenFreed() {
	b, _ := native.Alloc("x", 10)
	b.Free(native.RevokeBorrows())
	b.Free() // want `doublefree: b.Free: .* already freed`
}
