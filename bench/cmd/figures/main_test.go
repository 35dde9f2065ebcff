package main

import (
	"os"
	"path/filepath"
	"testing"
)

func TestRatiosWithinRounds(t *testing.T) {
	path := filepath.Join(t.TempDir(), "b.txt")
	os.WriteFile(path, []byte(`goos: linux
BenchmarkAllocFree/size=64/impl=cgo/round=0-2   1000   100 ns/op   90 cpu-ns/op   0 B/op   0 allocs/op
BenchmarkAllocFree/size=64/impl=new/round=0-2   1000   150 ns/op   200 cpu-ns/op   64 B/op   1 allocs/op
BenchmarkAllocFree/size=64/impl=new/round=1-2   1000   400 ns/op   300 cpu-ns/op   64 B/op   1 allocs/op
BenchmarkAllocFree/size=64/impl=cgo/round=1-2   1000   200 ns/op   100 cpu-ns/op   0 B/op   0 allocs/op
BenchmarkCext/pattern=pair/size=16/impl=libc 1 8.12 ns/op
PASS
`), 0o644)
	res, err := readBench(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := res["AllocFree/size=64/impl=new"]["cpu-ns/op"]; len(got) != 2 || got[0] != 200 || got[1] != 300 {
		t.Fatalf("new's cpu-ns/op by round: %v", got)
	}
	if got := res["Cext/pattern=pair/size=16/impl=libc"]["ns/op"]; len(got) != 1 {
		t.Fatalf("the C bench's line: %v", got)
	}
	r := ratio{num: "AllocFree/size=64/impl=new", den: "AllocFree/size=64/impl=cgo", unit: "ns/op", op: "<=", limit: 1.6}
	rs, err := r.perRound(res)
	if err != nil || len(rs) != 2 || rs[0] != 1.5 || rs[1] != 2 {
		t.Fatalf("per-round ratios %v, %v; want [1.5 2]", rs, err)
	}
	// 1.75 on the median, 1.5 and 2 in the rounds.
	if got := r.verdict(rs); got != "**met in 1 of 2 rounds** (the median does not)" {
		t.Errorf("verdict %q", got)
	}
	r.limit = 2
	if got := r.verdict(rs); got != "met in 2 of 2 rounds" {
		t.Errorf("verdict %q", got)
	}
	r.limit = 1
	if got := r.verdict(rs); got != "**not met** (0 of 2 rounds)" {
		t.Errorf("verdict %q", got)
	}
	if _, err := (ratio{num: "AllocFree/size=64/impl=new", den: "missing", unit: "ns/op"}).perRound(res); err == nil {
		t.Error("a ratio to a case with no rounds gave no error")
	}
}
