package tracker

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
)

// DefaultSampleRate is the sampled mode's default: on average one stack per
// 512 KiB allocated, as Go's heap profiler does.
const DefaultSampleRate = 512 << 10

// stackRate: 0 records no stacks, 1 records every stack, N > 1 samples one
// stack per N bytes allocated on average.
var stackRate atomic.Int64

// stackDepth is the most frames one stack keeps.
var stackDepth atomic.Int32

func init() {
	stackDepth.Store(32)
	rate, err := ParseTrackMode(os.Getenv("MEMBRIDGE_TRACK"))
	if err != nil {
		fmt.Fprintf(os.Stderr, "membridge: %v; using the sampled mode\n", err)
		rate = DefaultSampleRate
	}
	SetStackRate(rate)
}

// ParseTrackMode reads a tracking mode as MEMBRIDGE_TRACK spells it and
// returns the stack rate: "off" (0: counters only), "sample" (the default,
// DefaultSampleRate), "sample:<bytes>" (one stack per that many bytes on
// average), "all" (1: every allocation). The empty string is "sample".
func ParseTrackMode(s string) (int64, error) {
	switch s = strings.TrimSpace(s); {
	case s == "" || s == "sample":
		return DefaultSampleRate, nil
	case s == "off":
		return 0, nil
	case s == "all":
		return 1, nil
	case strings.HasPrefix(s, "sample:"):
		n, err := strconv.ParseInt(strings.TrimPrefix(s, "sample:"), 10, 64)
		if err != nil || n < 1 {
			return 0, fmt.Errorf("MEMBRIDGE_TRACK=%q: sample:<bytes> needs a whole number of bytes >= 1", s)
		}
		return n, nil
	}
	return 0, fmt.Errorf("MEMBRIDGE_TRACK=%q: want off, sample, sample:<bytes> or all", s)
}

// SetStackRate sets how many allocation stacks the ledger keeps: 0 keeps
// none (counters only), 1 keeps every one (what tests use), N > 1 keeps one
// per N bytes allocated on average. It returns the previous rate. Records
// made earlier keep what they captured.
func SetStackRate(rate int64) (previous int64) {
	rate = max(rate, 0)
	if rate > 1 {
		sampleCountdown.Store(nextSampleGap(rate))
	}
	return stackRate.Swap(rate)
}

// StackRate returns the current stack rate (see SetStackRate).
func StackRate() int64 { return stackRate.Load() }

// Debug reports whether every allocation keeps its stack. Owners also
// poison freed memory in this mode.
func Debug() bool { return stackRate.Load() == 1 }

// SetStackDepth sets the most frames a captured stack keeps (default 32).
func SetStackDepth(frames int) {
	stackDepth.Store(int32(min(max(frames, 1), 256)))
}

// sampled decides whether an allocation of n bytes keeps its stack: with
// probability 1-exp(-n/rate), so that on average one stack is kept per rate
// bytes and a sample of n bytes stands for n/(1-exp(-n/rate)) bytes. As in
// Go's heap profiler, the sample points are a Poisson process over the
// bytes allocated: a countdown of the bytes to the next point, drawn from
// the exponential distribution, and an allocation is sampled when the
// countdown runs out inside it. Most allocations cost one atomic addition.
func sampled(n, rate int64) bool {
	switch {
	case rate == 0:
		return false
	case rate == 1:
		return true
	case n <= 0:
		return false
	}
	if sampleCountdown.Add(-n) > 0 {
		return false
	}
	sampleCountdown.Store(nextSampleGap(rate))
	return true
}

// sampleCountdown is the number of bytes left before the next sample point.
var sampleCountdown atomic.Int64

// nextSampleGap draws the bytes between two sample points: exponential,
// with mean rate.
func nextSampleGap(rate int64) int64 {
	return int64(rand.ExpFloat64()*float64(rate)) + 1
}

// SampleWeight returns how many bytes a sampled record of n bytes stands for
// at the given rate (see Record.StackRate): n for rate 1, n/(1-exp(-n/rate))
// otherwise. Profiles scale sampled records by it.
func SampleWeight(n, rate int64) float64 {
	if rate <= 1 || n <= 0 {
		return float64(n)
	}
	return float64(n) / -math.Expm1(-float64(n)/float64(rate))
}

// The stack capture leaves out the ledger's own frames by a count of its
// own: the frames from walkStack up to the function that asked, which the
// callers below are always called from at the same depth (each is
// noinline). The owner's frames above stay in the stack; reports, sites and
// profiles drop them when they show it (UserFrames), which also holds when
// an owner's functions were inlined into the user's code, and for a C
// allocation traced from a cgo callback (cext), whose stack crosses the
// runtime's callback frames.
const (
	// allocFrames: walkStack, callers, reserve and allocate, whose caller
	// (the owner, through Allocate) is the first frame kept.
	allocFrames = 4
	// freeFrames: walkStack, callersInto and Record.end.
	freeFrames = 3
)

// callers returns the allocation stack for reserve: at most stackDepth
// frames, in a slice with room for spare more frames (the debug mode keeps
// the free stack there: see Record.end).
//
//go:noinline
func callers(spare int) []uintptr {
	var buf [256 + 8]uintptr
	lo, hi := walkStack(allocFrames, buf[:])
	out := make([]uintptr, hi-lo, hi-lo+spare)
	copy(out, buf[lo:hi])
	return out
}

// callersInto is the free stack for Record.end, into dst, without
// allocating; it returns how many frames it wrote.
//
//go:noinline
func callersInto(dst []uintptr) int {
	var buf [256 + 8]uintptr
	lo, hi := walkStack(freeFrames, buf[:])
	return copy(dst, buf[lo:hi])
}

// walkStack fills buf for callers and callersInto and returns the frames'
// range in it, less the first own frames (walkStack itself included). With
// frame-pointer unwinding (amd64) it walks the chain; elsewhere, and where
// the chain ends at a cgo callback, it asks runtime.Callers, whose frames
// are logical ones: the ledger's frames are noinline, so both count alike.
//
//go:noinline
func walkStack(own int, buf []uintptr) (lo, hi int) {
	depth := int(stackDepth.Load())
	if fpUnwind {
		n := fpCallers(buf[:depth+own])
		// A walk that ends short of the depth and not at the goroutine's
		// start stopped at a cgo callback, where the chain does not lead
		// back to the Go code that called C; runtime.Callers can cross it.
		if n > own && (n == depth+own || buf[n-1] == goexitPC) {
			return own, n
		}
	}
	return 0, runtime.Callers(own+1, buf[:depth]) // +1: runtime.Callers itself
}

// goexitPC is the return address every goroutine's outermost frame holds
// (the runtime starts each goroutine as if called from runtime.goexit): a
// frame-pointer walk that ends there saw the whole stack.
var goexitPC = func() uintptr {
	if !fpUnwind {
		return 0
	}
	done := make(chan uintptr)
	go func() {
		var pcs [64]uintptr
		n := fpCallers(pcs[:])
		done <- pcs[n-1]
	}()
	return <-done
}()

// Frames resolves a stack captured by the ledger into frames.
func Frames(stack []uintptr) []runtime.Frame {
	if len(stack) == 0 {
		return nil
	}
	var out []runtime.Frame
	fr := runtime.CallersFrames(stack)
	for {
		f, more := fr.Next()
		out = append(out, f)
		if !more {
			return out
		}
	}
}

// Site returns the first frame of a stack as "function file:line", or "".
// The first frame shown is the first one outside membridge's own packages,
// so the site is the user's line however deep the owner's call path is.
func Site(stack []uintptr) string {
	fs := UserFrames(Frames(stack))
	if len(fs) == 0 {
		return ""
	}
	return fmt.Sprintf("%s %s:%d", fs[0].Function, fs[0].File, fs[0].Line)
}

// UserFrames drops the leading frames that are inside membridge's own
// library packages (tracker, native, cuda, cache, cext, batch, handle), and
// the runtime's cgo call and callback frames between them (a C allocation
// traced from a callback), so a stack starts where the user's code called
// membridge. Tests of those packages count as user code. It keeps at least
// one frame.
func UserFrames(fs []runtime.Frame) []runtime.Frame {
	i := 0
	for i < len(fs)-1 && isLibraryFrame(fs[i].Function) {
		i++
	}
	return fs[i:]
}

func isLibraryFrame(fn string) bool {
	rest, ok := strings.CutPrefix(fn, "github.com/membridge/membridge/")
	if !ok {
		return isCgoFrame(fn)
	}
	pkg, name, _ := strings.Cut(rest, ".")
	switch pkg {
	case "tracker", "native", "cuda", "cache", "cext", "batch", "handle":
		top, _, _ := strings.Cut(name, ".")
		return !isTestName(top)
	}
	return false
}

// isCgoFrame reports whether fn is one of the runtime's frames of a cgo
// call or of a callback from C into Go, or cgo's wrapper of an exported
// function (named _cgoexp_<hash>_<name>, without its package).
func isCgoFrame(fn string) bool {
	if strings.HasPrefix(fn, "_cgoexp_") {
		return true
	}
	switch fn {
	case "runtime.cgocall", "runtime.asmcgocall", "runtime.cgocallback",
		"runtime.cgocallbackg", "runtime.cgocallbackg1", "runtime.systemstack_switch":
		return true
	}
	return false
}
