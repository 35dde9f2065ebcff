package cext_test

import (
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/membridge/membridge/cext"
	"github.com/membridge/membridge/cext/internal/cmem"
	"github.com/membridge/membridge/cext/leakcheck"
	"github.com/membridge/membridge/internal/testkit"
	"github.com/membridge/membridge/native"
	"github.com/membridge/membridge/tracker"
	"github.com/membridge/membridge/tracker/leaktest"
	"github.com/membridge/membridge/tracker/stacks"
)

// untraced runs the rest of the test with tracing off (checking off, the
// ledger's sampled mode), as in production; the tests of this package do not run
// in parallel, since the mode is global.
func untraced(t testing.TB) {
	prev, prevCheck := tracker.SetStackRate(stacks.DefaultSampleRate), tracker.SetChecking(false)
	t.Cleanup(func() {
		tracker.SetStackRate(prev)
		tracker.SetChecking(prevCheck)
		cext.FollowChecking()
	})
	if cext.FollowChecking() {
		t.Fatal("tracing still on with checking off")
	}
}

func traced(t *testing.T) {
	require.True(t, cext.FollowChecking(), "tracing off in the test mode")
}

// inBothModes runs body as a subtest in each mode, untraced (the ledger's
// sampled mode, as in production) and traced (the test mode), with the C
// extension's books checked after each.
func inBothModes(t *testing.T, body func(t *testing.T, mode string)) {
	for _, mode := range []string{"untraced", "traced"} {
		t.Run(mode, func(t *testing.T) {
			defer leakcheck.Check(t)
			if mode == "untraced" {
				untraced(t)
			} else {
				traced(t)
			}
			body(t, mode)
		})
	}
}

// tag registers a C tag for this run of t: the C counters of a tag run
// since the start of the process, and -count>1 runs t again in it. The C
// side has room for MEMBRIDGE_MAX_TAGS (64) tags, enough for -count=5.
func tag(t testing.TB) (string, int) {
	name := testkit.UniqueTag(t)
	if len(name) > 47 { // MEMBRIDGE_TAG_MAX_LEN: keep the end, the run's number
		name = name[len(name)-47:]
	}
	i := cmem.Tag(name)
	if i < 1 {
		t.Fatalf("membridge_tag(%q) = %d: the C tag table is full (a -count too high for these tests?)", name, i)
	}
	return name, i
}

func cStats(t testing.TB, i int) cmem.Stats {
	t.Helper()
	s, ok := cmem.ReadStats(i)
	require.True(t, ok, "no stats for C tag %d", i)
	return s
}

func TestTagRegistration(t *testing.T) {
	a := cmem.Tag("cext.registration")
	b := cmem.Tag("cext.registration")
	if a < 1 || a != b {
		t.Fatalf("membridge_tag twice: %d then %d, want the same index >= 1", a, b)
	}
	for _, bad := range []string{"", strings.Repeat("x", 48)} {
		if i := cmem.Tag(bad); i != -1 {
			t.Errorf("membridge_tag(%d bytes) = %d, want -1", len(bad), i)
		}
	}
}

func TestCountersReachTheLedger(t *testing.T) {
	defer leakcheck.Check(t)
	untraced(t)
	name, i := tag(t)
	a := cmem.Malloc(i, 100)
	b := cmem.Calloc(i, 3, 10)
	a = cmem.Realloc(i, a, 200)
	if a == nil || b == nil {
		t.Fatal("out of memory")
	}
	assert.EqualValues(t, 200, cmem.Size(a), "membridge_size after realloc")
	if zero := unsafe.Slice((*byte)(b), 30); strings.Count(string(zero), "\x00") != 30 {
		t.Errorf("membridge_calloc memory not zeroed: %v", zero)
	}
	s := cStats(t, i)
	want := cmem.Stats{LiveBytes: 230, LiveCount: 2, PeakBytes: 230, AllocBytes: 330, AllocCount: 3, FreedBytes: 100, FreedCount: 1}
	assert.Equal(t, want, s, "C counters")
	cext.Sync()
	ls := tracker.TagStats(name)
	if ls.LiveBytes != 230 || ls.LiveCount != 2 || ls.AllocatedCount != 3 {
		t.Errorf("ledger TagStats(%q) = %+v, want 230 live bytes in 2 blocks, 3 allocations", name, ls)
	}
	found := false
	for _, st := range tracker.AllStats() {
		if st.Tag == name {
			found = st.Kind == cext.KindCExtension && st.PeakBytes == 230
		}
	}
	assert.True(t, found, "AllStats has no c-extension entry with peak 230 for %q", name)
	cmem.Free(a)
	cmem.Free(b)
	cext.Sync()
	if ls := tracker.TagStats(name); ls.LiveBytes != 0 || ls.FreedCount != 3 || ls.PeakBytes != 230 {
		t.Errorf("after frees, TagStats = %+v, want 0 live, 3 freed, peak 230", ls)
	}
}

func TestAllocatorStruct(t *testing.T) {
	untraced(t)
	_, i := tag(t)
	require.True(t, cmem.AllocatorRoundTrip(i, 1<<16), "out of memory")
	s := cStats(t, i)
	// calloc, then 12 reallocs (32 .. 64 KiB), then free.
	if s.LiveBytes != 0 || s.LiveCount != 0 || s.AllocCount != 13 || s.PeakBytes != 1<<16 {
		t.Errorf("C counters = %+v, want nothing live, 13 allocations, peak 65536", s)
	}
}

func TestThreadsCountExactly(t *testing.T) {
	untraced(t)
	_, i := tag(t)
	const threads, rounds = 8, 20000
	require.True(t, cmem.Churn(i, threads, rounds), "pthread_create failed")
	s := cStats(t, i)
	if s.AllocCount != threads*rounds || s.FreedCount != threads*rounds || s.LiveBytes != 0 || s.LiveCount != 0 {
		t.Errorf("after %d threads x %d rounds: %+v, want every allocation freed", threads, rounds, s)
	}
	// Each thread holds at most 8 blocks of at most 5119 bytes; the peak
	// is exact to within 32 KiB per thread (membridge.c's FLUSH_BYTES).
	const most = threads * (8*5119 + 32<<10)
	if s.AllocBytes != s.FreedBytes || s.PeakBytes < 8*1024 || s.PeakBytes > most {
		t.Errorf("bytes: %+v, want allocated == freed and %d <= peak <= %d", s, 8*1024, most)
	}
}

func TestTracedAllocationCarriesTheGoStack(t *testing.T) {
	defer leakcheck.Check(t)
	traced(t)
	name, i := tag(t)
	p := cmem.Malloc(i, 48)
	var r leaktest.Recorder
	leaktest.VerifyNone(&r, leaktest.MaxWait(0))
	cmem.Free(p)
	require.Len(t, r.Reports(), 1, "VerifyNone reported")
	for _, want := range []string{"48 bytes", fmt.Sprintf("tag %q", name), "kind c-extension", "TestTracedAllocationCarriesTheGoStack", "cmem.Malloc"} {
		assert.Contains(t, r.Reports()[0], want, "leak report lacks")
	}
	// Traced blocks are in the ledger's own records, not in the C counters.
	if s := cStats(t, i); s.AllocCount != 0 {
		t.Errorf("C counters of a traced tag: %+v, want none", s)
	}
}

func TestTracedReallocAndAllocator(t *testing.T) {
	defer leakcheck.Check(t)
	traced(t)
	name, i := tag(t)
	before := tracker.TagStats(name)
	p := cmem.Realloc(i, cmem.Malloc(i, 10), 5000)
	if s := tracker.TagStats(name); s.LiveBytes != 5000 || s.LiveCount != 1 {
		t.Errorf("after realloc: %+v, want one live record of 5000 bytes", s)
	}
	cmem.Free(p)
	require.True(t, cmem.AllocatorRoundTrip(i, 4096), "out of memory")
	after := tracker.TagStats(name)
	if after.LiveBytes != 0 || after.AllocatedCount-before.AllocatedCount != 2+9 {
		t.Errorf("TagStats = %+v, want nothing live and 11 traced allocations (2, then calloc and 8 reallocs)", after)
	}
}

func TestAdoptMovesTheBooks(t *testing.T) {
	inBothModes(t, func(t *testing.T, mode string) {
		name, i := tag(t)
		p := cmem.Malloc(i, 64)
		cext.Sync()
		if s := tracker.TagStats(name); s.LiveBytes != 64 {
			t.Fatalf("before Adopt: %+v, want 64 live bytes", s)
		}
		calls := cmem.DeleterCalls()
		buf, err := cext.Adopt(p, "cmem_deleter", cmem.Deleter)
		require.NoError(t, err)
		cext.Sync()
		if s := tracker.TagStats(name); s.LiveBytes != 64 || s.LiveCount != 1 {
			t.Errorf("after Adopt: TagStats %+v, want the 64 bytes counted once", s)
		}
		if k := buf.Snapshot().Kind; k != native.KindAdopted || buf.Tag() != name || buf.Len() != 64 {
			t.Errorf("adopted buffer: kind %s tag %q len %d", k, buf.Tag(), buf.Len())
		}
		if _, err := cext.Adopt(p, "", nil); !errors.Is(err, cext.ErrGoOwned) {
			t.Errorf("second Adopt: %v, want ErrGoOwned", err)
		}
		assert.ErrorIs(t, cext.Free(p), cext.ErrGoOwned, "cext.Free of an adopted block")
		require.NoError(t, buf.Free())
		assert.EqualValues(t, 1, cmem.DeleterCalls()-calls, "the extension's deleter ran")
		cext.Sync()
		if s := tracker.TagStats(name); s.LiveBytes != 0 || s.LiveCount != 0 {
			t.Errorf("after Free: %+v, want nothing live", s)
		}
		if s := cStats(t, i); s.LiveBytes != 0 || s.AllocCount != s.FreedCount {
			t.Errorf("C counters after Free: %+v, want balanced", s)
		}
	})
}

func TestAllocHandToC(t *testing.T) {
	inBothModes(t, func(t *testing.T, mode string) {
		name := "cext.handtoc." + mode
		buf, err := cext.Alloc(name, 96)
		require.NoError(t, err)
		copy(buf.Bytes(), "for C")
		p, err := cext.HandToC(buf)
		require.NoError(t, err)
		assert.ErrorIs(t, buf.Err(), native.ErrMoved, "buffer after HandToC")
		cext.Sync()
		if s := tracker.TagStats(name); s.LiveBytes != 96 {
			t.Errorf("while C holds it: %+v, want 96 live bytes", s)
		}
		cmem.Free(p) // C frees it, as C code does
		cext.Sync()
		if s := tracker.TagStats(name); s.LiveBytes != 0 || s.LiveCount != 0 {
			t.Errorf("after C freed it: %+v, want nothing live", s)
		}
	})
}

func TestFreeFromGo(t *testing.T) {
	defer leakcheck.Check(t)
	_, i := tag(t)
	p := cmem.Malloc(i, 32)
	require.NoError(t, cext.Free(p))
	assert.NoError(t, cext.Free(nil), "Free(nil)")
	f := cmem.Foreign()
	defer cmem.FreeForeign(f)
	assert.ErrorIs(t, cext.Free(f), cext.ErrForeign, "Free of a foreign pointer")
	if _, err := cext.Adopt(f, "", nil); !errors.Is(err, cext.ErrForeign) {
		t.Errorf("Adopt of a foreign pointer: %v, want ErrForeign", err)
	}
	g, err := native.Alloc("cext.not-a-block", 64)
	require.NoError(t, err)
	defer g.Free()
	copy(g.Bytes(), make([]byte, 64))
	if _, err := cext.HandToC(g); !errors.Is(err, cext.ErrForeign) || g.Err() != nil {
		t.Errorf("HandToC of a native buffer: %v (buffer: %v), want ErrForeign and the buffer untouched", err, g.Err())
	}
}

// TestMisuseAborts runs C misuse in a child process and checks that it
// aborts with membridge's message, naming the block where membridge knew
// it, instead of corrupting the heap or faulting. The double frees run
// with glibc's per-thread cache full, so the freed block sits where glibc
// keeps its own lists (a fastbin, the unsorted bin, merged into a
// neighbour) or was unmapped; no misuse may reach malloc.
func TestMisuseAborts(t *testing.T) {
	if what := os.Getenv("CEXT_MISUSE"); what != "" {
		// Blocks from malloc one by one (the checking mode), or small
		// blocks of membridge's own size classes: each misuse is caught
		// in both.
		cmem.SetChecking(os.Getenv("CEXT_MISUSE_CHECKING") == "1")
		misuse(what)
		os.Exit(0) // not reached
	}
	freed := func(fn string, n int) []string {
		return []string{"membridge: " + fn + "(0x", "freed already", `tag "cext.misuse"`, fmt.Sprintf("%d bytes", n)}
	}
	for _, c := range []struct {
		what string
		want []string
	}{
		{"foreign", []string{"membridge: membridge_free(0x", "not a membridge block"}},
		{"foreign-unmapped", []string{"membridge: membridge_free(0x", "not a membridge block"}},
		{"wild", []string{"membridge: membridge_free(0xffffffffffffffff)", "not a membridge block"}},
		{"go-owned", []string{"membridge: membridge_free(0x", `tag "cext.misuse-go"`, "16 bytes", "the block is owned by a Go handle"}},
		{"realloc-go-owned", []string{"membridge: membridge_realloc(0x", `tag "cext.misuse-go"`, "16 bytes", "the block is owned by a Go handle"}},
		{"twice", freed("membridge_free", 24)},
		{"fastbin", freed("membridge_free", 24)},
		{"concurrent-twice", freed("membridge_free", 24)},
		{"unsorted", freed("membridge_free", 600)},
		{"coalesced", freed("membridge_free", 600)},
		{"mmapped", freed("membridge_free", 8<<20)},
		{"realloc-freed", freed("membridge_realloc", 24)},
		{"size-freed", freed("membridge_size", 40)},
		{"interior", []string{"membridge: membridge_free(0x", "16 bytes into the block at 0x", `tag "cext.misuse"`, "100 bytes"}},
		{"realloc-interior", []string{"membridge: membridge_realloc(0x", "32 bytes into the block at 0x", "100 bytes"}},
		{"realloc-foreign", []string{"membridge: membridge_realloc(0x", "not a membridge block"}},
		// In the checking mode blocks come from malloc: the next malloc
		// of the address finds it still counted. Otherwise a small block
		// is membridge's own, and its guard makes glibc's free() abort.
		{"freed-by-libc", []string{"membridge: membridge_malloc", "still a live membridge block", `tag "cext.misuse"`, "56 bytes", "free()"}},
		{"freed-by-libc-small", []string{"munmap_chunk(): invalid pointer"}},
	} {
		for _, checking := range []string{"1", "0"} {
			name := c.what
			if checking == "0" {
				if strings.HasPrefix(c.what, "freed-by-libc") {
					continue // each sets its own mode
				}
				name += "/small-classes"
			}
			t.Run(name, func(t *testing.T) {
				misuseChild(t, c.what, checking, c.want)
			})
		}
	}
}

// misuseChild runs one misuse in a child process and checks that it
// aborted with every text in want.
func misuseChild(t *testing.T, what, checking string, want []string) {
	if strings.HasPrefix(what, "freed-by-libc") && leakcheck.Enabled {
		t.Skip("AddressSanitizer holds freed memory back (its quarantine): malloc does not hand the address out again")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestMisuseAborts$")
	cmd.Env = append(os.Environ(), "CEXT_MISUSE="+what, "CEXT_MISUSE_CHECKING="+checking, "MEMBRIDGE_TRACK=off")
	out, err := cmd.CombinedOutput()
	// The message comes first; the Go runtime's dump after it is long.
	head := string(out[:min(len(out), 800)])
	require.Error(t, err, "child exited 0:\n%s", head)
	// On a Go thread the Go runtime reports the signal; on a thread
	// C started, the process dies of it.
	ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if !strings.Contains(string(out), "SIGABRT") && !(ws.Signaled() && ws.Signal() == syscall.SIGABRT) {
		t.Errorf("child did not abort (%v):\n%s", err, head)
	}
	for _, w := range want {
		assert.Contains(t, head, w, "child output")
	}
}

func misuse(what string) {
	switch what {
	case "foreign":
		cmem.Free(cmem.Foreign())
	case "go-owned":
		//membridge:ignore leak the child process gives a Go-owned block to C's free on purpose: the test checks that membridge aborts with a clear message
		buf, err := cext.Alloc("cext.misuse-go", 16)
		if err != nil {
			panic(err)
		}
		//membridge:ignore keptslice the child process gives a Go-owned block to C's free on purpose: the test checks that membridge aborts with a clear message
		cmem.Free(buf.Ptr())
	case "realloc-go-owned":
		//membridge:ignore leak the child process gives a Go-owned block to C's realloc on purpose: the test checks that membridge aborts with a clear message
		buf, err := cext.Alloc("cext.misuse-go", 16)
		if err != nil {
			panic(err)
		}
		//membridge:ignore keptslice the child process gives a Go-owned block to C's realloc on purpose: the test checks that membridge aborts with a clear message
		cmem.Realloc(0, buf.Ptr(), 64)
	default:
		cmem.Misuse(what)
	}
}

// TestHostileSizes: sizes that cannot be allocated, or that overflow, get
// NULL with errno ENOMEM, never a small block; a failed realloc leaves the
// old block as it was.
func TestHostileSizes(t *testing.T) {
	defer leakcheck.Check(t)
	untraced(t)
	_, i := tag(t)
	const maxSize = ^uint64(0)
	for _, c := range []struct {
		name string
		op   int
		a, b uint64
	}{
		{"malloc SIZE_MAX", cmem.HostileMalloc, maxSize, 0},
		{"malloc SIZE_MAX-8", cmem.HostileMalloc, maxSize - 8, 0},
		{"malloc SIZE_MAX-15", cmem.HostileMalloc, maxSize - 15, 0},
		{"malloc 2^63", cmem.HostileMalloc, 1 << 63, 0},
		{"malloc 2^48", cmem.HostileMalloc, 1 << 48, 0},
		{"calloc SIZE_MAX/2 x 3", cmem.HostileCalloc, maxSize / 2, 3},
		{"calloc 2^32 x 2^32", cmem.HostileCalloc, 1 << 32, 1 << 32},
		{"calloc 1 x SIZE_MAX", cmem.HostileCalloc, 1, maxSize},
		{"realloc SIZE_MAX", cmem.HostileRealloc, maxSize, 0},
		{"realloc SIZE_MAX-15", cmem.HostileRealloc, maxSize - 15, 0},
		{"realloc 2^48", cmem.HostileRealloc, 1 << 48, 0},
	} {
		got, errno := cmem.HostileAlloc(i, c.op, c.a, c.b)
		assert.False(t, got, "%s returned a block", c.name)
		assert.Equal(t, int(syscall.ENOMEM), errno, "%s: errno", c.name)
	}
	s := cStats(t, i)
	assert.Zero(t, s.LiveBytes, "C counters after the hostile sizes: %+v", s)
	assert.Equal(t, s.AllocCount, s.FreedCount, "C counters after the hostile sizes: %+v", s)
}

// TestBlocksKeepTheirBooks: a block is freed in the books it was
// allocated in, whatever the tracing mode is when it is freed.
func TestBlocksKeepTheirBooks(t *testing.T) {
	defer leakcheck.Check(t)
	name, i := tag(t)
	traced(t)
	tracedBlock := cmem.Malloc(i, 100)
	prev := tracker.SetChecking(false)
	cext.FollowChecking()
	countedBlock := cmem.Malloc(i, 10)
	cmem.Free(tracedBlock) // freed untraced: its record still ends
	tracker.SetChecking(prev)
	cext.FollowChecking()
	cmem.Free(countedBlock) // freed traced: the C counters still count it
	cext.Sync()
	if s := tracker.TagStats(name); s.LiveBytes != 0 || s.LiveCount != 0 || s.AllocatedCount != 2 || s.FreedCount != 2 {
		t.Errorf("TagStats = %+v, want 2 allocations, 2 frees, nothing live", s)
	}
	if s := cStats(t, i); s.AllocCount != 1 || s.FreedCount != 1 || s.LiveBytes != 0 {
		t.Errorf("C counters = %+v, want the untraced block counted and freed", s)
	}
}

// FuzzBlockOps runs sequences of membridge.h operations on a few blocks,
// in the order and with the sizes the fuzzer picks: malloc, calloc,
// realloc and free, and writes into the blocks. After each step every
// block holds what was written into it (calloc's zeroes included; realloc
// keeps the common prefix) and membridge_size is its size; at the end, with every block freed, the
// tag's counters are back to nothing live. Misuse, which aborts, is the
// child-process tests' business (TestMisuseAborts), not the fuzzer's.
func FuzzBlockOps(f *testing.F) {
	f.Add([]byte{0, 0, 16, 1, 1, 200, 3, 0, 0, 2, 0, 255, 4, 1, 0})
	f.Add([]byte{1, 2, 0, 0, 3, 10, 2, 2, 4, 2, 3, 0, 3, 2, 0, 2, 3, 1})
	f.Add([]byte{0, 7, 255, 255, 2, 7, 0, 1, 3, 7, 0, 0, 5, 7, 2, 2, 7, 0, 0})
	untraced(f)
	_, i := tag(f)
	f.Fuzz(func(t *testing.T, ops []byte) {
		const blocks = 8
		var (
			ptr  [blocks]unsafe.Pointer
			want [blocks][]byte // what each block must hold
		)
		before := cStats(t, i)
		next := func() int {
			if len(ops) == 0 {
				return 0
			}
			b := ops[0]
			ops = ops[1:]
			return int(b)
		}
		check := func(k int, what string) {
			t.Helper()
			if ptr[k] == nil {
				return
			}
			require.Equal(t, len(want[k]), cmem.Size(ptr[k]), "%s: membridge_size of block %d", what, k)
			if len(want[k]) > 0 {
				require.Equal(t, want[k], unsafe.Slice((*byte)(ptr[k]), len(want[k])), "%s: contents of block %d", what, k)
			}
		}
		// Op 6 switches the checking mode: blocks from malloc and blocks
		// of membridge's own size classes then live side by side.
		checking := cmem.SetChecking(false)
		defer cmem.SetChecking(checking)
		for len(ops) > 0 {
			op, k := next()%7, next()%blocks
			n := next()<<8 | next() // up to 64 KiB
			if n >= 0xff00 {
				n = (n - 0xff00) << 12 // up to 1 MiB: blocks glibc maps
			}
			switch op {
			case 0, 1: // malloc, calloc
				cmem.Free(ptr[k])
				if op == 0 {
					ptr[k] = cmem.Malloc(i, n)
				} else {
					ptr[k] = cmem.Calloc(i, 1+n%16, n/16)
					n = (1 + n%16) * (n / 16)
				}
				require.NotNil(t, ptr[k], "allocating %d bytes", n)
				want[k] = make([]byte, n)
				if op == 0 {
					copy(unsafe.Slice((*byte)(ptr[k]), n), want[k]) // malloc's bytes are undefined
				}
			case 2: // realloc, NULL included
				q := cmem.Realloc(i, ptr[k], n)
				if n == 0 && ptr[k] != nil { // realloc(NULL, 0) is malloc(0)
					require.Nil(t, q, "realloc to 0 bytes")
					ptr[k], want[k] = nil, nil
					break
				}
				require.NotNil(t, q, "realloc of %p to %d bytes", ptr[k], n)
				if common := min(len(want[k]), n); common > 0 {
					require.Equal(t, want[k][:common], unsafe.Slice((*byte)(q), common), "realloc from %d to %d bytes kept", len(want[k]), n)
				}
				grown := make([]byte, n)
				copy(grown, want[k])
				copy(unsafe.Slice((*byte)(q), n), grown) // the bytes past the old size are undefined: define them
				ptr[k], want[k] = q, grown
			case 3: // free
				cmem.Free(ptr[k])
				ptr[k], want[k] = nil, nil
			case 6:
				cmem.SetChecking(n%2 == 1)
			default: // write a pattern somewhere into the block
				if len(want[k]) == 0 {
					break
				}
				at, fill := n%len(want[k]), byte(next())
				end := min(len(want[k]), at+1+next()*8)
				b := unsafe.Slice((*byte)(ptr[k]), len(want[k]))
				for j := at; j < end; j++ {
					b[j], want[k][j] = fill, fill
				}
			}
			check(k, fmt.Sprintf("after op %d", op))
		}
		for k := range blocks {
			check(k, "at the end")
			cmem.Free(ptr[k])
		}
		after := cStats(t, i)
		require.Equal(t, before.LiveBytes, after.LiveBytes, "live bytes after freeing every block")
		require.Equal(t, before.LiveCount, after.LiveCount, "live blocks after freeing every block")
		require.Equal(t, after.AllocCount-before.AllocCount, after.FreedCount-before.FreedCount, "allocations and frees")
	})
}

// TestGoSideMisuse: what Go code can get wrong with cext gets an error,
// and the block stays where it was.
func TestGoSideMisuse(t *testing.T) {
	defer leakcheck.Check(t)
	_, err := cext.Adopt(nil, "", nil)
	assert.ErrorIs(t, err, cext.ErrForeign, "Adopt(nil)")
	_, err = cext.Alloc("cext.misuse-go", -1)
	assert.ErrorIs(t, err, tracker.ErrInvalidSize, "Alloc(-1)")
	_, err = cext.Alloc("cext.misuse-go", math.MaxInt)
	assert.ErrorIs(t, err, tracker.ErrOutOfMemory, "Alloc(MaxInt)")

	buf, err := cext.Alloc("cext.misuse-go", 32)
	require.NoError(t, err)
	p, err := cext.HandToC(buf)
	require.NoError(t, err)
	_, err = cext.HandToC(buf)
	assert.ErrorIs(t, err, native.ErrMoved, "a second HandToC")
	back, err := cext.Adopt(p, "", nil) // C owns it again: Go may adopt it back
	require.NoError(t, err, "Adopt of a block handed to C")
	defer back.Free()
	_, err = cext.Adopt(p, "", nil)
	assert.ErrorIs(t, err, cext.ErrGoOwned, "a second Adopt")

	freed, err := cext.Alloc("cext.misuse-go", 16)
	require.NoError(t, err)
	q := freed.Ptr()
	require.NoError(t, freed.Free())
	_, err = cext.HandToC(freed)
	assert.ErrorIs(t, err, native.ErrFreed, "HandToC after Free")
	// Nothing reads a freed block's memory: the table says it is gone.
	assert.ErrorIs(t, cext.Free(q), cext.ErrForeign, "cext.Free of a freed block")
	_, err = cext.Adopt(q, "", nil)
	assert.ErrorIs(t, err, cext.ErrForeign, "Adopt of a freed block")

	c := cmem.Malloc(0, 100)
	assert.ErrorIs(t, cext.Free(unsafe.Add(c, 16)), cext.ErrForeign, "cext.Free of an interior pointer")
	_, err = cext.Adopt(unsafe.Add(c, 16), "", nil)
	assert.ErrorIs(t, err, cext.ErrForeign, "Adopt of an interior pointer")
	require.NoError(t, cext.Free(c))
	// The adopted p is still the Go handle's.
	assert.ErrorIs(t, cext.Free(p), cext.ErrGoOwned)
	for _, r := range tracker.LiveSnapshots() {
		if r.Tag == "cext.misuse-go" && r.Live {
			assert.Error(t, cext.FreeLeaked(r), "FreeLeaked of an adopted block's record")
		}
	}
}
