package tracker

import (
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"sync/atomic"

	"github.com/membridge/membridge/tracker/internal/stackutil"
)

// stackRate: 0 records no stacks, 1 records every stack, N > 1 samples one
// stack per N bytes allocated on average.
var stackRate atomic.Int64

// stackDepth is the most frames one stack keeps (stacks.SetStackDepth).
var stackDepth = &stackutil.Depth

func init() {
	rate, err := stackutil.ParseTrackMode(os.Getenv("MEMBRIDGE_TRACK"))
	if err != nil {
		fmt.Fprintf(os.Stderr, "membridge: %v; using the sampled mode\n", err)
		rate = stackutil.DefaultSampleRate
	}
	SetStackRate(rate)
}

// SetStackRate sets how many allocation stacks the ledger keeps: 0 keeps
// none (counters only), 1 keeps every one (what tests use), N > 1 keeps one
// per N bytes allocated on average. It returns the previous rate. Records
// made earlier keep what they captured.
func SetStackRate(rate int64) (previous int64) {
	rate = max(rate, 0)
	if rate > 1 {
		resetSampling(rate)
	}
	return stackRate.Swap(rate)
}

// StackRate returns the current stack rate (see SetStackRate).
func StackRate() int64 { return stackRate.Load() }

// Sampling: an allocation of n bytes keeps its stack with probability
// 1-exp(-n/rate), so that on average one stack is kept per rate bytes and
// a sample of n bytes stands for n/(1-exp(-n/rate)) bytes. As in Go's heap
// profiler, the sample points are a Poisson process over the bytes
// allocated: a countdown of the bytes to the next point, drawn from the
// exponential distribution, and an allocation is sampled when the countdown
// runs out inside it. Each slot (slots.go) keeps its own countdown, so the
// process is one per P, and most allocations cost one subtraction.

// nextSampleGap draws the bytes between two sample points: exponential,
// with mean rate.
func nextSampleGap(rate int64) int64 {
	return int64(rand.ExpFloat64()*float64(rate)) + 1
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
// frames, in a slice with room for spare more frames (with every stack kept,
// the free stack goes there: see Record.end).
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
