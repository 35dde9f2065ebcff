// Command benchtable reads `go test -bench AllocFree` output from the alloc
// benchmarks on stdin and prints a Markdown table of median ns/op per
// allocator and size, with ratios to the bare cgo pair and to arrow's
// Mallocator, followed by the speed targets of docs/speed.md checked
// against the same run. It does so for
// wall time (ns/op) and, when the benchmarks reported it, for the process's
// CPU time (cpu-ns/op), which a busy shared machine distorts less.
//
//	go test -run '^$' -bench AllocFree -count 6 ./alloc | go run ./cmd/benchtable
package main

import (
	"bufio"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
)

// line matches "BenchmarkAllocFree/size=64/impl=cgo-2  1000  76.3 ns/op
// 80.1 cpu-ns/op  0 B/op  0 allocs/op", cpu-ns/op and the memory columns
// being optional.
var line = regexp.MustCompile(`^BenchmarkAllocFree/size=(\d+)/impl=(\S+?)(?:-\d+)?\s+\d+\s+([\d.]+) ns/op(?:\s+([\d.]+) cpu-ns/op)?(?:\s+(\d+) B/op\s+(\d+) allocs/op)?`)

type cell struct {
	ns     [2][]float64 // wall, cpu
	allocs int
}

var metrics = [2]string{"wall time, ns/op", "process CPU time, cpu-ns/op"}

func main() {
	cells := map[[2]string]*cell{}
	var sizes, impls []string
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		m := line.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		k := [2]string{m[1], m[2]}
		c := cells[k]
		if c == nil {
			c = &cell{}
			cells[k] = c
			if !slices.Contains(sizes, m[1]) {
				sizes = append(sizes, m[1])
			}
			if !slices.Contains(impls, m[2]) {
				impls = append(impls, m[2])
			}
		}
		for i, v := range []string{m[3], m[4]} {
			if v != "" {
				ns, _ := strconv.ParseFloat(v, 64)
				c.ns[i] = append(c.ns[i], ns)
			}
		}
		if m[6] != "" {
			c.allocs, _ = strconv.Atoi(m[6])
		}
	}
	if len(cells) == 0 {
		fmt.Fprintln(os.Stderr, "benchtable: no BenchmarkAllocFree lines on stdin")
		os.Exit(1)
	}
	for metric := range metrics {
		table(cells, sizes, impls, metric)
	}
}

// table prints the medians of one metric and checks the targets on them.
func table(cells map[[2]string]*cell, sizes, impls []string, metric int) {
	if cells[[2]string{sizes[0], impls[0]}].ns[metric] == nil {
		return
	}
	fmt.Printf("### %s\n\n", metrics[metric])
	med := func(size, impl string) float64 {
		c := cells[[2]string{size, impl}]
		if c == nil || len(c.ns[metric]) == 0 {
			return 0
		}
		s := slices.Clone(c.ns[metric])
		slices.Sort(s)
		if len(s)%2 == 1 {
			return s[len(s)/2]
		}
		return (s[len(s)/2-1] + s[len(s)/2]) / 2
	}

	fmt.Print("| allocator |")
	for _, s := range sizes {
		fmt.Printf(" %s ns/op | ×cgo | ×arrow | allocs |", human(s))
	}
	fmt.Print("\n|---|")
	for range sizes {
		fmt.Print("---:|---:|---:|---:|")
	}
	fmt.Println()
	for _, im := range impls {
		fmt.Printf("| %s |", im)
		for _, s := range sizes {
			ns, base, arrow := med(s, im), med(s, "cgo"), med(s, "arrow-mallocator")
			c := cells[[2]string{s, im}]
			if c == nil || base == 0 || arrow == 0 {
				fmt.Print(" | | | |")
				continue
			}
			fmt.Printf(" %s | %.2f | %.2f | %d |", fmtNs(ns), ns/base, ns/arrow, c.allocs)
		}
		fmt.Println()
	}

	fmt.Println()
	fmt.Println("Targets (medians of this run):")
	fmt.Println()
	for _, s := range sizes {
		cgo, samp, mal := med(s, "cgo"), med(s, "membridge-sampled"), med(s, "arrow-mallocator")
		chk, all := med(s, "arrow-checked"), med(s, "membridge-all-depth1")
		if s != "1048576" && cgo > 0 && samp > 0 && mal > 0 {
			fmt.Printf("- %s: sampled is %.2f× arrow Mallocator (target < 1: %s) and %.2f× the bare cgo pair (target ≤ 3: %s)\n",
				human(s), samp/mal, verdict(samp < mal), samp/cgo, verdict(samp/cgo <= 3))
		}
		if chk > 0 && all > 0 {
			fmt.Printf("- %s: arrow CheckedAllocator is %.2f× all mode at its stack depth (target ≥ 2: %s)\n",
				human(s), chk/all, verdict(chk/all >= 2))
		}
	}
	fmt.Println()
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "NOT met"
}

func human(size string) string {
	n, _ := strconv.Atoi(size)
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d B", n)
}

func fmtNs(ns float64) string {
	if ns >= 10000 {
		return fmt.Sprintf("%.1f µs", ns/1000)
	}
	return fmt.Sprintf("%.0f", ns)
}
