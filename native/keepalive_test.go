package native

import (
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/membridge/membridge/cext/leakcheck"
	"github.com/membridge/membridge/internal/testkit"
	"github.com/membridge/membridge/tracker"
)

// The rule every user of Bytes, Values, Ptr and arena memory meets: the
// memory lives as long as its handle, not as long as the slice. With the
// handle kept reachable to the last use (runtime.KeepAlive here; Free
// after the use does the same), collections leave the data alone.
func TestKeptHandleKeepsTheData(t *testing.T) {
	defer leakcheck.Check(t)
	b, err := Alloc(testkit.UniqueTag(t), 256)
	require.NoError(t, err)
	s := b.Bytes()
	for i := range s {
		s[i] = byte(i)
	}
	a := NewArena(testkit.UniqueTag(t), 0)
	vals, err := MakeSliceIn[int64](a, 32)
	require.NoError(t, err)
	for i := range vals {
		vals[i] = int64(i) * 7
	}
	for range 3 {
		tracker.GC()
	}
	for i := range s {
		require.Equal(t, byte(i), s[i])
	}
	for i := range vals {
		require.Equal(t, int64(i)*7, vals[i])
	}
	runtime.KeepAlive(b) // the last use of s was above
	runtime.KeepAlive(a)
	require.NoError(t, b.Free())
	require.NoError(t, a.Free())
}

// droppedChild runs in a child process: it keeps a slice of memory whose
// handle it drops, waits for the safety net to reclaim the memory, then
// reads the slice, which must fault with membridge's message.
func droppedChild(what string) {
	tracker.SetStackRate(1)
	tracker.SetLeakPolicy(tracker.LeakFree)
	reclaimed := make(chan struct{}, 1)
	tracker.SetLeakHandler(func(*tracker.Record) {
		select {
		case reclaimed <- struct{}{}:
		default:
		}
	})
	var read func() int64
	switch what {
	case "buffer", "large":
		n := 64
		if what == "large" {
			n = largeMin
		}
		b, err := Alloc("dropped-"+what, n)
		if err != nil {
			panic(err)
		}
		//membridge:ignore keptslice the child breaks the rule on purpose: b is not used after this
		s := b.Bytes()
		read = func() int64 { return int64(s[0]) }
	case "arena":
		a := NewArena("dropped-arena", 0)
		//membridge:ignore keptslice the child breaks the rule on purpose: a is not used after this
		vals, err := MakeSliceIn[int64](a, 8)
		if err != nil {
			panic(err)
		}
		read = func() int64 { return vals[3] }
	}
	for {
		tracker.GC()
		select {
		case <-reclaimed:
			println("read", read()) // must fault
			os.Exit(0)
		default:
		}
	}
}

// In the debug mode, memory the safety net reclaims is quarantined: a
// slice kept past its handle's drop faults, and membridge names the
// allocation site, instead of reading whatever was allocated there next.
func TestDroppedBufferKeptSliceFaults(t *testing.T) {
	if what := os.Getenv("MEMBRIDGE_DROPPED_CHILD"); what != "" {
		droppedChild(what)
		return
	}
	if testing.Short() {
		t.Skip("runs child processes")
	}
	for _, c := range []struct{ what, desc string }{
		{"buffer", `*Buffer of a 64-byte buffer (tag "dropped-buffer"`},
		{"large", `262144-byte buffer (tag "dropped-large"`},
		{"arena", `*Arena of a 262144-byte chunk (tag "dropped-arena"`},
	} {
		t.Run(c.what, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestDroppedBufferKeptSliceFaults$")
			cmd.Env = append(os.Environ(), "MEMBRIDGE_DROPPED_CHILD="+c.what)
			out, err := cmd.CombinedOutput()
			require.Error(t, err, "the read of reclaimed memory did not fault:\n%s", out)
			for _, want := range []string{
				"membridge: use of memory the safety net reclaimed",
				c.desc,
				"allocated at",
				"keepalive_test.go", // the allocation site
				"runtime.KeepAlive",
				"unexpected fault address",
			} {
				assert.True(t, strings.Contains(string(out), want), "child output lacks %q:\n%s", want, out)
			}
		})
	}
}

// In the debug mode a buffer's memory is poisoned with 0xDB at Free, so a
// slice kept past Free reads garbage, not the data. (The page stays mapped
// in the debug mode's pool, so reading it here is safe.)
func TestDebugModePoisonsFreedMemory(t *testing.T) {
	defer leakcheck.Check(t)
	require.True(t, tracker.Checking())
	b, err := Alloc(testkit.UniqueTag(t), 64)
	require.NoError(t, err)
	s := b.Bytes()
	for i := range s {
		assert.Equal(t, byte(0xCD), s[i], "fresh memory is junk") // fresh memory in the debug mode
		s[i] = byte(i)
	}
	addr := uintptr(b.Ptr())
	require.NoError(t, b.Free())
	//membridge:ignore useafterfree the test reads the poison after Free on purpose
	freed := unsafe.Slice((*byte)(unsafe.Add(unsafe.Pointer(nil), addr)), 64)
	for i := range freed {
		require.Equal(t, byte(0xDB), freed[i], "byte %d after Free", i)
	}
}
