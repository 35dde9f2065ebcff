// Package stackutil reads the stacks the ledger captures: frames, the
// user's frames, sites, the test a stack belongs to, and the stack-rate
// setting. Package tracker, its test mode (tracker/leaktest) and its
// public stack helpers (tracker/stacks) share it.
package stackutil

import (
	"fmt"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
)

// DefaultSampleRate is the sampled mode's default: on average one stack per
// 512 KiB allocated, as Go's heap profiler does.
const DefaultSampleRate = 512 << 10

// Depth is the most frames one captured stack keeps (32 unless set).
var Depth atomic.Int32

func init() { Depth.Store(32) }

// SetDepth sets Depth, kept within [1, 256].
func SetDepth(frames int) { Depth.Store(int32(min(max(frames, 1), 256))) }

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

// Site returns the first user frame of a stack (UserFrames) as
// "function file:line", or "".
func Site(stack []uintptr) string {
	fs := UserFrames(Frames(stack))
	if len(fs) == 0 {
		return ""
	}
	return fmt.Sprintf("%s %s:%d", fs[0].Function, fs[0].File, fs[0].Line)
}

// UserFrames drops the leading frames that are inside membridge's own
// library packages, so a stack starts where the user's code called
// membridge. It keeps at least one frame.
func UserFrames(fs []runtime.Frame) []runtime.Frame {
	i := 0
	for i < len(fs)-1 && isLibraryFrame(fs[i].Function) {
		i++
	}
	return fs[i:]
}

// modulePrefix is the import path of the module that holds the ledger,
// with a trailing slash, derived from this package's own path: library
// frames are found by where they are, not by a list of packages.
var modulePrefix = func() string {
	fn := runtime.FuncForPC(reflect.ValueOf(Frames).Pointer()).Name()
	pkg, _, _ := strings.Cut(fn[strings.LastIndexByte(fn, '/')+1:], ".")
	path := fn[:strings.LastIndexByte(fn, '/')+1] + pkg
	return strings.TrimSuffix(path, "tracker/internal/stackutil")
}()

// isLibraryFrame reports whether fn is a function of one of the module's
// library packages: under the module's path, in no test package and no
// package under an internal or examples directory (test stand-ins and
// sample code count as the user's), and not itself a test, benchmark,
// fuzz target or example.
func isLibraryFrame(fn string) bool {
	rest, ok := strings.CutPrefix(fn, modulePrefix)
	if !ok {
		return isCgoFrame(fn)
	}
	dir, last := "", rest
	if i := strings.LastIndexByte(rest, '/'); i >= 0 {
		dir, last = rest[:i], rest[i+1:]
	}
	pkg, name, _ := strings.Cut(last, ".")
	if strings.HasSuffix(pkg, "_test") {
		return false
	}
	for _, elem := range strings.Split(dir, "/") {
		if elem == "internal" || elem == "examples" {
			return false
		}
	}
	top, _, _ := strings.Cut(name, ".")
	return !IsTestName(top)
}

// isCgoFrame reports whether fn is one of the runtime's frames of a cgo
// call or of a callback from C into Go, or cgo's wrapper of an exported
// function (named _cgoexp_<hash>_<name>, without its package): between an
// owner's frames and the user's when C code traced through a callback
// allocated.
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

// WriteStack writes the user frames of stack, one function and its
// file:line per two lines, each line after indent.
func WriteStack(b *strings.Builder, stack []uintptr, indent string) {
	for _, f := range UserFrames(Frames(stack)) {
		if f.Function == "" {
			continue
		}
		fmt.Fprintf(b, "%s%s\n%s    %s:%d\n", indent, f.Function, indent, f.File, f.Line)
	}
}

// TestFrame returns the name of the test, benchmark, fuzz target or
// example whose frame is on the stack ("TestFoo" for TestFoo and its
// closures), or "".
func TestFrame(stack []uintptr) string {
	name := ""
	for _, f := range Frames(stack) {
		fn := f.Function
		if i := strings.LastIndexByte(fn, '/'); i >= 0 {
			fn = fn[i+1:]
		}
		i := strings.IndexByte(fn, '.')
		if i < 0 {
			continue
		}
		fn = fn[i+1:]
		if j := strings.IndexByte(fn, '.'); j >= 0 {
			fn = fn[:j]
		}
		if IsTestName(fn) {
			name = fn // keep the outermost
		}
	}
	return name
}

// IsTestName reports whether a top-level function name is that of a test,
// benchmark, fuzz target or example, as go test finds them.
func IsTestName(fn string) bool {
	for _, p := range []string{"Test", "Benchmark", "Fuzz", "Example"} {
		if rest, ok := strings.CutPrefix(fn, p); ok {
			return rest == "" || !(rest[0] >= 'a' && rest[0] <= 'z')
		}
	}
	return false
}
