package native

import (
	"errors"
	"os"
	"os/exec"
	"testing"

	"github.com/membridge/membridge/cext/leakcheck"
	"github.com/membridge/membridge/tracker"
	"github.com/membridge/membridge/tracker/stacks"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFreezeAllowsOnlyReads(t *testing.T) {
	for _, debug := range []bool{false, true} {
		t.Run(map[bool]string{false: "sample", true: "all"}[debug], func(t *testing.T) {
			defer leakcheck.Check(t)
			rate := int64(stacks.DefaultSampleRate)
			if debug {
				rate = 1
			}
			defer tracker.SetStackRate(tracker.SetStackRate(rate))
			defer tracker.SetChecking(tracker.SetChecking(rate == 1))
			for _, n := range []int{100, 1 << 20} { // the malloc and the large-buffer path
				b, err := Alloc(t.Name(), n)
				require.NoError(t, err)
				copy(b.Bytes(), "frozen")
				w, _ := b.ViewMut(0, 1)
				require.ErrorIs(t, b.Freeze(), ErrBorrowed, "Freeze with an exclusive view out")
				w.Release()
				require.NoError(t, b.Freeze())
				require.NoError(t, b.Freeze(), "second Freeze")
				require.True(t, b.Frozen(), "Frozen() = false")
				func() {
					defer func() {
						r := recover()
						if err, _ := r.(error); !errors.Is(err, ErrFrozen) {
							t.Errorf("Bytes of a frozen buffer: %v, want a panic with ErrFrozen", r)
						}
					}()
					b.Bytes()
				}()
				if _, err := b.ViewMut(0, 1); !errors.Is(err, ErrFrozen) {
					t.Fatalf("ViewMut of a frozen buffer: %v", err)
				}
				v, err := b.View(0, 6)
				require.NoError(t, err)
				require.EqualValues(t, "frozen", string(v.Bytes()), "frozen contents %q", v.Bytes())
				v.Release()
				require.NoError(t, b.Free())
			}
		})
	}
}

// A write to a frozen buffer in the debug mode faults at the writing
// instruction; membridge names the buffer first. The write runs in a child
// process, since the fault ends it.
func TestFrozenWriteFaultsWithItsSite(t *testing.T) {
	if os.Getenv("MEMBRIDGE_FROZEN_CHILD") != "" {
		tracker.SetStackRate(1)
		b, err := Alloc("frozen-child", 4096)
		if err != nil {
			panic(err)
		}
		if err := b.Freeze(); err != nil {
			panic(err)
		}
		v, _ := b.View(0, 8)
		//membridge:ignore keptslice the child process writes through a view of a frozen buffer on purpose: the test checks that it faults
		v.Bytes()[3] = 1 // must fault
		os.Exit(0)
	}
	if testing.Short() {
		t.Skip("runs a child process")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestFrozenWriteFaultsWithItsSite$")
	cmd.Env = append(os.Environ(), "MEMBRIDGE_FROZEN_CHILD=1")
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("the write to a frozen buffer did not fault:\n%s", out)
	}
	for _, want := range []string{
		"membridge: write to a frozen buffer",
		`tag "frozen-child"`,
		"allocated at",
		"freeze_test.go",           // the allocation site
		"unexpected fault address", // the Go runtime's report of the faulting write
	} {
		assert.Contains(t, string(out), want, "child output lacks %q:\n%s", want, out)
	}
}
