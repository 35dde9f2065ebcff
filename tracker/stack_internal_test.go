package tracker

import (
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

//go:noinline
func stackViaLedger() []uintptr { return callers(0, 0) }

//go:noinline
func stackViaRuntime() []uintptr {
	pcs := make([]uintptr, 64)
	return pcs[:runtime.Callers(2, pcs)]
}

//go:noinline
func outer(f func() []uintptr) []uintptr { return middle(f) }

//go:noinline
func middle(f func() []uintptr) []uintptr { return f() }

func names(stack []uintptr) []string {
	var out []string
	for _, f := range Frames(stack) {
		out = append(out, f.Function)
	}
	return out
}

// The frame-pointer walk must see the same calls as runtime.Callers, from
// the caller of callers' caller up to the goroutine's start.
func TestCallersMatchesTheRuntime(t *testing.T) {
	done := make(chan [2][]string)
	go func() {
		done <- [2][]string{names(outer(stackViaLedger)), names(outer(stackViaRuntime))}
	}()
	got := <-done
	ledger, rt := got[0], got[1]
	// runtime.Callers hides the go statement's wrapper; the walk shows it.
	ledger = slices.DeleteFunc(ledger, func(s string) bool { return strings.Contains(s, ".gowrap") })
	require.True(t, slices.Equal(ledger, rt), "ledger stack %q\nruntime stack %q", ledger, rt)
	if len(rt) < 3 || rt[len(rt)-1] != "runtime.goexit" {
		t.Fatalf("stack does not reach the goroutine's start: %q", rt)
	}
}
