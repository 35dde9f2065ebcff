// Command footprint measures the resident memory a program needs to keep
// a set of large buffers live while it replaces some of them each round,
// with Go slices, glibc malloc through cgo (default and MALLOC_ARENA_MAX=1),
// one mmap per buffer, and membridge's native.Alloc. Each allocator runs in
// a child process of its own, so that one's freed memory does not hide
// another's; the parent prints peak RSS over live bytes and time per round.
//
//	cd bench && go run ./cmd/footprint                      # 2 GiB live in 1 MiB buffers
//	cd bench && go run ./cmd/footprint -live 256MiB -rounds 10   # a quick check
package main

import (
	"bufio"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/membridge/membridge/native"
)

var (
	liveFlag  = flag.String("live", "2GiB", "bytes kept live (suffixes KiB, MiB, GiB)")
	bufFlag   = flag.String("buf", "1MiB", "size of each buffer")
	rounds    = flag.Int("rounds", 30, "rounds of replacement")
	fraction  = flag.Float64("replace", 0.1, "fraction of the buffers replaced per round")
	workers   = flag.Int("workers", 4, "goroutines replacing buffers in each round")
	modesFlag = flag.String("modes", "go,malloc,malloc-arena1,mmap,membridge", "allocators to compare, in order")
	child     = flag.String("child", "", "internal: run one allocator and report")
	maxRatio  = flag.Float64("max-membridge-ratio", 0, "exit 1 if membridge's peak RSS over live bytes exceeds this (0: no check)")
)

func main() {
	flag.Parse()
	live, err1 := parseSize(*liveFlag)
	size, err2 := parseSize(*bufFlag)
	if err1 != nil || err2 != nil || size <= 0 || live < size {
		fmt.Fprintln(os.Stderr, "footprint: bad -live or -buf:", err1, err2)
		os.Exit(2)
	}
	if *child != "" {
		runChild(*child, int(live/size), int(size))
		return
	}
	fmt.Printf("%d buffers of %s (%s live), %d rounds replacing %.0f%% each, %d goroutines, GOMAXPROCS %d\n\n",
		live/size, *bufFlag, *liveFlag, *rounds, *fraction*100, *workers, runtime.GOMAXPROCS(0))
	fmt.Println("| allocator | peak RSS / live bytes | time per round | vs malloc |")
	fmt.Println("|---|---|---|---|")
	var mallocRound time.Duration
	fail := false
	for _, mode := range strings.Split(*modesFlag, ",") {
		r, err := runParent(mode)
		if err != nil {
			fmt.Fprintf(os.Stderr, "footprint: %s: %v\n", mode, err)
			os.Exit(1)
		}
		if mode == "malloc" {
			mallocRound = r.perRound
		}
		vs := "-"
		if mallocRound > 0 {
			vs = fmt.Sprintf("%.2fx", float64(r.perRound)/float64(mallocRound))
		}
		fmt.Printf("| %s | %.3fx | %v | %s |\n", label(mode), r.ratio, r.perRound.Round(10*time.Microsecond), vs)
		if mode == "membridge" && *maxRatio > 0 && r.ratio > *maxRatio {
			fail = true
		}
	}
	if fail {
		fmt.Fprintf(os.Stderr, "footprint: membridge peaked over %.2fx the live bytes\n", *maxRatio)
		os.Exit(1)
	}
}

func label(mode string) string {
	switch mode {
	case "go":
		return "Go slices (GOGC=100)"
	case "malloc":
		return "glibc malloc via cgo"
	case "malloc-arena1":
		return "glibc malloc, MALLOC_ARENA_MAX=1"
	case "mmap":
		return "one mmap per buffer"
	case "membridge":
		return "membridge native.Alloc"
	}
	return mode
}

type result struct {
	ratio    float64
	perRound time.Duration
}

// runParent runs one allocator in a child process and reads its report.
func runParent(mode string) (result, error) {
	cmd := exec.Command(os.Args[0], append(os.Args[1:], "-child", mode)...)
	cmd.Env = os.Environ()
	if mode == "malloc-arena1" {
		cmd.Env = append(cmd.Env, "MALLOC_ARENA_MAX=1")
	}
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return result{}, err
	}
	var r result
	var ns int64
	if _, err := fmt.Sscanf(strings.TrimSpace(string(out)), "%g %d", &r.ratio, &ns); err != nil {
		return result{}, fmt.Errorf("child said %q: %v", out, err)
	}
	r.perRound = time.Duration(ns)
	return r, nil
}

// allocator is one way of getting and giving back a buffer.
type allocator struct {
	alloc func(n int) (slot, error)
	free  func(s slot)
}

type slot struct {
	p   unsafe.Pointer
	goB []byte
	buf *native.Buffer
}

func allocatorFor(mode string) allocator {
	switch mode {
	case "go":
		return allocator{
			alloc: func(n int) (slot, error) {
				b := make([]byte, n)
				return slot{p: unsafe.Pointer(&b[0]), goB: b}, nil
			},
			free: func(slot) {},
		}
	case "malloc", "malloc-arena1":
		return allocator{
			alloc: func(n int) (slot, error) {
				p := cMalloc(n)
				if p == nil {
					return slot{}, fmt.Errorf("malloc %d: out of memory", n)
				}
				return slot{p: p}, nil
			},
			free: func(s slot) { cFree(s.p) },
		}
	case "mmap":
		return allocator{
			alloc: func(n int) (slot, error) {
				p := cMmap(n)
				if p == nil {
					return slot{}, fmt.Errorf("mmap %d: out of memory", n)
				}
				return slot{p: p}, nil
			},
			free: func(s slot) { cMunmap(s.p, int(*sizeOf)) },
		}
	case "membridge":
		return allocator{
			alloc: func(n int) (slot, error) {
				b, err := native.Alloc("footprint", n)
				if err != nil {
					return slot{}, err
				}
				return slot{p: b.Ptr(), buf: b}, nil
			},
			free: func(s slot) { s.buf.Free() },
		}
	}
	fmt.Fprintf(os.Stderr, "footprint: unknown allocator %q\n", mode)
	os.Exit(2)
	return allocator{}
}

var sizeOf = new(int64)

// touch writes one byte in every page, as filling the buffer would, so the
// pages count in RSS.
func touch(p unsafe.Pointer, n int, v byte) {
	b := unsafe.Slice((*byte)(p), n)
	for i := 0; i < n; i += 4096 {
		b[i] = v
	}
	b[n-1] = v
}

// runChild fills count buffers, then replaces a fraction of them per round
// from several goroutines, and prints peak RSS growth over live bytes and
// nanoseconds per round.
func runChild(mode string, count, size int) {
	*sizeOf = int64(size)
	a := allocatorFor(mode)
	base := rss("VmRSS")
	slots := make([]slot, count)
	for i := range slots {
		s, err := a.alloc(size)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		touch(s.p, size, byte(i))
		slots[i] = s
	}
	perRound := int(float64(count) * *fraction)
	rng := rand.New(rand.NewPCG(1, 2))
	start := time.Now()
	for range *rounds {
		idx := rng.Perm(count)[:perRound]
		var wg sync.WaitGroup
		for w := range *workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for j := w; j < len(idx); j += *workers {
					i := idx[j]
					a.free(slots[i])
					s, err := a.alloc(size)
					if err != nil {
						fmt.Fprintln(os.Stderr, err)
						os.Exit(1)
					}
					touch(s.p, size, byte(j))
					slots[i] = s
				}
			}()
		}
		wg.Wait()
	}
	elapsed := time.Since(start)
	peak := rss("VmHWM")
	for _, s := range slots {
		a.free(s)
	}
	runtime.KeepAlive(slots)
	liveBytes := float64(count) * float64(size)
	fmt.Printf("%g %d\n", float64(peak-base)/liveBytes, int64(elapsed)/int64(*rounds))
}

// rss reads a field (kB) of /proc/self/status, in bytes.
func rss(field string) int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err == nil {
				return kb << 10
			}
		}
	}
	fmt.Fprintf(os.Stderr, "footprint: no %s in /proc/self/status\n", field)
	os.Exit(1)
	return 0
}

func parseSize(s string) (int64, error) {
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		m      int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if v, ok := strings.CutSuffix(s, u.suffix); ok {
			s, mult = v, u.m
			break
		}
	}
	n, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, err
	}
	return int64(n * float64(mult)), nil
}
