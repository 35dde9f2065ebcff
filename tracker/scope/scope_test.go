package scope_test

import (
	"fmt"
	"testing"

	"github.com/membridge/membridge/tracker/internal/ledgertest"
	"github.com/membridge/membridge/tracker/leaktest"
	"github.com/membridge/membridge/tracker/scope"
)

func TestMain(m *testing.M) { leaktest.VerifyTestMain(m) }

func TestNestedScopesMeasurePeakAndNet(t *testing.T) {
	defer leaktest.VerifyNone(t)
	var o ledgertest.Owner
	outer := scope.Begin("outer")
	a, _ := o.Alloc(t.Name(), 1000)
	inner := scope.Begin("inner")
	b, _ := o.Alloc(t.Name(), 500)
	if mid := inner.Stats(); mid.NetBytes != 500 || mid.Name != "inner" {
		t.Errorf("inner scope so far: %+v; want 500 net bytes", mid)
	}
	b.Free()
	c, _ := o.Alloc(t.Name(), 200)
	in := inner.End()
	a.Free()
	out := outer.End()
	c.Free()

	if in.PeakBytes != 500 || in.NetBytes != 200 || in.AllocatedCount != 2 || in.FreedBytes != 500 {
		t.Errorf("inner: %+v; want peak 500, net 200, 2 allocations, 500 freed", in)
	}
	if out.PeakBytes != 1500 || out.NetBytes != 200 || out.AllocatedBytes != 1700 || out.FreedCount != 2 {
		t.Errorf("outer: %+v; want peak 1500, net 200, 1700 allocated, 2 frees", out)
	}
	if again := outer.End(); again != out {
		t.Errorf("second End: %+v, want %+v", again, out)
	}
}

func ExampleMeasure() {
	var o ledgertest.Owner
	st := scope.Measure("decode", func() {
		a, _ := o.Alloc("frame", 4096)
		b, _ := o.Alloc("frame", 1024)
		b.Free()
		a.Free()
	})
	fmt.Println(st.Name, st.PeakBytes, st.NetBytes)
	// Output: decode 5120 0
}
