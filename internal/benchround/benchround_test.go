package benchround

import (
	"slices"
	"testing"
)

func TestRunAlternatesOrder(t *testing.T) {
	defer func(n int) { *rounds = n }(*rounds)
	*rounds = 3
	var got []string
	cases := []Case{{"a", nil}, {"b", nil}, {"c", nil}}
	for i := range cases {
		name := cases[i].Name
		cases[i].Run = func(b *testing.B) {
			if b.N == 1 { // a sub-benchmark first runs once, then ramps up
				got = append(got, name)
			}
		}
	}
	testing.Benchmark(func(b *testing.B) { Run(b, cases) })
	want := []string{"a", "b", "c", "c", "b", "a", "a", "b", "c"}
	if !slices.Equal(got, want) {
		t.Fatalf("order %v, want %v", got, want)
	}
}
