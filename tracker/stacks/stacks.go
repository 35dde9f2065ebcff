// Package stacks reads the allocation stacks the ledger keeps (see
// tracker.SetStackRate): their frames, the user's frames, the site, and
// the weight of a sampled record. It also sets how deep stacks are.
package stacks

import (
	"math"
	"runtime"

	"github.com/membridge/membridge/tracker/internal/stackutil"
)

// DefaultSampleRate is the sampled mode's default stack rate: on average
// one stack per 512 KiB allocated, as Go's heap profiler does.
const DefaultSampleRate = stackutil.DefaultSampleRate

// ParseTrackMode reads a tracking mode as MEMBRIDGE_TRACK spells it and
// returns the stack rate: "off" (0: counters only), "sample" (the default,
// DefaultSampleRate), "sample:<bytes>" (one stack per that many bytes on
// average), "all" (1: every allocation). The empty string is "sample".
func ParseTrackMode(s string) (int64, error) { return stackutil.ParseTrackMode(s) }

// SetStackDepth sets the most frames a captured stack keeps (default 32,
// at most 256).
func SetStackDepth(frames int) { stackutil.SetDepth(frames) }

// Frames resolves a stack captured by the ledger into frames.
func Frames(stack []uintptr) []runtime.Frame { return stackutil.Frames(stack) }

// Site returns the first frame of a stack as "function file:line", or "".
// The first frame shown is the first one outside membridge's own library
// packages (see UserFrames), so the site is the user's line however deep
// the owner's call path is.
func Site(stack []uintptr) string { return stackutil.Site(stack) }

// UserFrames drops the leading frames that are inside membridge's own
// library packages, so a stack starts where the user's code called
// membridge. A library package is any package of the ledger's module
// (found at run time from the ledger's own path, so new owners need no
// list) except test packages, tests, and packages under an internal or
// examples directory (test stand-ins and samples count as the user's). It
// keeps at least one frame.
func UserFrames(fs []runtime.Frame) []runtime.Frame { return stackutil.UserFrames(fs) }

// SampleWeight returns how many bytes a sampled record of n bytes stands for
// at the given rate (see Record.StackRate): n for rate 1, n/(1-exp(-n/rate))
// otherwise. Profiles scale sampled records by it.
func SampleWeight(n, rate int64) float64 {
	if rate <= 1 || n <= 0 {
		return float64(n)
	}
	return float64(n) / -math.Expm1(-float64(n)/float64(rate))
}
