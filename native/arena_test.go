package native

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"testing"
	"time"
	"unsafe"

	"github.com/membridge/membridge/cext/leakcheck"
	"github.com/membridge/membridge/internal/testkit"
	"github.com/membridge/membridge/tracker"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestArenaAllocAlignsAndBumps(t *testing.T) {
	defer leakcheck.Check(t)
	a := NewArena(t.Name(), 4096)
	defer a.Free()
	var prev uintptr
	for i, align := range []int{1, 8, 16, 64, 256, 4096, 2, 32} {
		p, err := a.Alloc(24, align)
		require.NoError(t, err)
		assert.EqualValues(t, 0, uintptr(p)%uintptr(align), "alloc %d: %p is not aligned to %d", i, p, align)
		if i > 0 && uintptr(p) == prev {
			t.Errorf("alloc %d returned the previous pointer again", i)
		}
		prev = uintptr(p)
		s := unsafe.Slice((*byte)(p), 24)
		for j := range s {
			s[j] = byte(i)
		}
	}
	if s := a.Stats(); s.UsedBytes < 8*24 || s.Chunks == 0 || s.ChunkBytes < 4096 {
		t.Errorf("stats after 8 allocations: %+v", s)
	}
}

func TestArenaBadRequests(t *testing.T) {
	defer leakcheck.Check(t)
	a := NewArena(t.Name(), 0)
	defer a.Free()
	for _, c := range []struct {
		n, align int
		want     error
	}{
		{-1, 8, ErrInvalidSize},
		{8, 0, ErrInvalidArgument},
		{8, 3, ErrInvalidArgument},
		{8, 8192, ErrInvalidArgument},
	} {
		if _, err := a.Alloc(c.n, c.align); !errors.Is(err, c.want) {
			t.Errorf("Alloc(%d, %d) = %v, want %v", c.n, c.align, err, c.want)
		}
	}
	//membridge:ignore gopointer the test checks that NewIn refuses Go pointers with ErrPointerType
	if _, err := NewIn[struct{ p *int }](a); !errors.Is(err, ErrPointerType) {
		t.Errorf("NewIn of a type with pointers: %v, want ErrPointerType", err)
	}
	//membridge:ignore gopointer the test checks that MakeSliceIn refuses Go pointers with ErrPointerType
	if _, err := MakeSliceIn[string](a, 3); !errors.Is(err, ErrPointerType) {
		t.Errorf("MakeSliceIn[string]: %v, want ErrPointerType", err)
	}
	if _, err := MakeSliceIn[int64](a, -1); !errors.Is(err, ErrInvalidSize) {
		t.Errorf("MakeSliceIn(-1): %v, want ErrInvalidSize", err)
	}
}

func TestArenaLedgerSeesChunks(t *testing.T) {
	defer leakcheck.Check(t)
	tag := t.Name()
	a := NewArena(tag, 4096)
	defer a.Free()
	for range 100 {
		if _, err := a.Alloc(400, 8); err != nil { // 10 per chunk
			t.Fatal(err)
		}
	}
	big, err := a.Alloc(10000, 64) // its own chunk
	require.NoError(t, err)
	_ = big
	chunks := a.Stats().Chunks
	if s := tracker.TagStats(tag); s.LiveCount != int64(chunks) || s.LiveCount < 11 {
		t.Fatalf("ledger has %d records for %d chunks: %+v", s.LiveCount, chunks, s)
	}
	if got := tracker.KindStats(KindArenaChunk).LiveBytes; got < 10*4096+10000 {
		t.Errorf("arena-chunk live bytes = %d", got)
	}
	if ArenaBytesInUse() < 9*4000 {
		t.Errorf("ArenaBytesInUse = %d, want at least the filled chunks", ArenaBytesInUse())
	}
	before := tracker.TagStats(tag).LiveCount
	a.Reset()
	if s := tracker.TagStats(tag); !tracker.Checking() && s.LiveCount != before-1 {
		t.Errorf("Reset kept %d chunks, want %d (all but the large one)", s.LiveCount, before-1)
	}
	assert.EqualValues(t, 0, a.Stats().UsedBytes, "used bytes after Reset")
	// The next batch reuses the chunks: no new records.
	for range 100 {
		if _, err := a.Alloc(400, 8); err != nil {
			t.Fatal(err)
		}
	}
	if s := tracker.TagStats(tag); !tracker.Checking() && s.LiveCount != before-1 {
		t.Errorf("second batch took new chunks: %d live, want %d", s.LiveCount, before-1)
	}
	require.NoError(t, a.Free())
	if s := tracker.TagStats(tag); s.LiveBytes != 0 {
		t.Errorf("after Free: %+v", s)
	}
	//membridge:ignore doublefree the test checks that a second Free returns ErrFreed
	assert.ErrorIs(t, a.Free(), ErrFreed, "second Free")
	//membridge:ignore useafterfree the test checks that Alloc on a freed arena returns ErrFreed
	if _, err := a.Alloc(8, 8); !errors.Is(err, ErrFreed) {
		t.Errorf("Alloc after Free: %v, want ErrFreed", err)
	}
}

func TestArenaGenerationCheck(t *testing.T) {
	defer leakcheck.Check(t)
	a := NewArena(t.Name(), 0)
	gen := a.Generation()
	p, err := NewIn[[4]int64](a)
	require.NoError(t, err)
	p[3] = 7
	require.NoError(t, a.Check(gen), "Check in the same generation")
	a.Reset()
	require.ErrorIs(t, a.Check(gen), ErrFreed, "Check after Reset")
	gen = a.Generation()
	a.Free()
	//membridge:ignore useafterfree the test checks that Check on a freed arena returns ErrFreed
	require.ErrorIs(t, a.Check(gen), ErrFreed, "Check after Free")
}

// In the debug mode an arena poisons what Reset takes back and does not
// hand the same memory out again, so a stale pointer reads garbage.
func TestArenaDebugModePoisons(t *testing.T) {
	defer leakcheck.Check(t)
	defer tracker.SetStackRate(tracker.SetStackRate(1))
	defer tracker.SetChecking(tracker.SetChecking(true))
	a := NewArena(t.Name(), 4096)
	defer a.Free()
	s, err := MakeSliceIn[byte](a, 64)
	require.NoError(t, err)
	for i := range s {
		s[i] = 1
	}
	old := a.Stats()
	a.Reset()
	assert.EqualValues(t, 0, tracker.TagStats(t.Name()).LiveCount, "records a debug-mode Reset kept live")
	s2, err := MakeSliceIn[byte](a, 64)
	require.NoError(t, err)
	if old.Chunks != 1 || len(s2) != 64 {
		t.Fatalf("stats %+v", old)
	}
}

func TestArenaTypedValues(t *testing.T) {
	defer leakcheck.Check(t)
	type point struct{ X, Y float64 }
	a := NewArena(t.Name(), 0)
	defer a.Free()
	p, err := NewIn[point](a)
	require.NoError(t, err)
	if *p != (point{}) {
		t.Errorf("NewIn returned non-zero %+v", *p)
	}
	p.X = 3
	ps, err := MakeSliceIn[point](a, 1000)
	require.NoError(t, err)
	for i := range ps {
		if ps[i] != (point{}) {
			t.Fatalf("MakeSliceIn element %d non-zero", i)
		}
		ps[i].Y = float64(i)
	}
	if p.X != 3 || ps[999].Y != 999 {
		t.Errorf("values overlap: p=%+v ps[999]=%+v", *p, ps[999])
	}
	assert.EqualValues(t, 0, uintptr(unsafe.Pointer(&ps[0]))%unsafe.Alignof(point{}), "slice misaligned")
}

func TestArenaLimitAndDroppedArena(t *testing.T) {
	defer leakcheck.Check(t)
	tag := t.Name()
	tracker.SetTagLimit(tag, 2*4096)
	defer tracker.SetTagLimit(tag, 0)
	a := NewArena(tag, 4096)
	defer a.Free()
	for range 2 {
		if _, err := a.Alloc(4000, 8); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := a.Alloc(4000, 8); !errors.Is(err, ErrLimit) {
		t.Fatalf("third chunk over an 8 KiB limit: %v, want ErrLimit", err)
	}
	// The arena still works within its chunks after the refusal.
	a.Reset()
	if _, err := a.Alloc(4000, 8); err != nil {
		t.Fatalf("after Reset: %v", err)
	}
}

func BenchmarkArenaAlloc64(b *testing.B) {
	a := NewArena("bench", 0)
	defer a.Free()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, err := a.Alloc(64, 8); err != nil {
			b.Fatal(err)
		}
		if i%2048 == 2047 {
			a.Reset()
		}
	}
}

// In the debug mode a stale pointer into an arena faults at the access and
// the report names the arena. The access runs in a child process, since
// the fault ends it.
func TestArenaUseAfterResetFaults(t *testing.T) {
	if os.Getenv("MEMBRIDGE_ARENA_CHILD") != "" {
		tracker.SetStackRate(1)
		a := NewArena("arena-child", 0)
		p, err := NewIn[[8]int64](a)
		if err != nil {
			panic(err)
		}
		p[0] = 1
		a.Reset()
		//membridge:ignore keptslice,useafterfree the child process writes after Reset on purpose: the test checks that it faults
		p[1] = 2 // must fault
		os.Exit(0)
	}
	if testing.Short() {
		t.Skip("runs a child process")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestArenaUseAfterResetFaults$")
	cmd.Env = append(os.Environ(), "MEMBRIDGE_ARENA_CHILD=1")
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("a write through a stale arena pointer did not fault:\n%s", out)
	}
	for _, want := range []string{
		"membridge: use of arena memory after Reset or Free",
		`arena "arena-child"`,
		"generation 0",
		"arena_test.go",
		"unexpected fault address",
	} {
		assert.Contains(t, string(out), want, "child output lacks %q:\n%s", want, out)
	}
}

func TestArenaTryAlloc(t *testing.T) {
	defer leakcheck.Check(t)
	a := NewArena(t.Name(), 4096)
	defer a.Free()
	if p := a.TryAlloc(8, 8); p != nil {
		t.Fatal("TryAlloc on an arena with no chunk returned memory")
	}
	if _, err := a.Alloc(8, 8); err != nil {
		t.Fatal(err)
	}
	seen := map[uintptr]bool{}
	for i := 0; ; i++ {
		p := a.TryAlloc(64, 64)
		if p == nil {
			if i != 63 { // 4096/64 - 1: the first 8 bytes took one slot
				t.Errorf("TryAlloc gave %d allocations from a 4 KiB chunk, want 63", i)
			}
			break
		}
		if uintptr(p)%64 != 0 || seen[uintptr(p)] {
			t.Fatalf("TryAlloc %d: %p misaligned or repeated", i, p)
		}
		seen[uintptr(p)] = true
	}
	for _, c := range [][2]int{{-1, 8}, {8, 3}, {8, 0}, {8, 8192}} {
		a.Reset()
		if p := a.TryAlloc(c[0], c[1]); p != nil {
			t.Errorf("TryAlloc(%d, %d) = %p, want nil", c[0], c[1], p)
		}
	}
}

func TestArenaWaitsForBudget(t *testing.T) {
	defer leakcheck.Check(t)
	tag := t.Name()
	tracker.SetTagLimit(tag, 8192)
	defer tracker.SetTagLimit(tag, 0)
	held, err := Alloc(tag, 6000)
	require.NoError(t, err)
	a := NewArena(tag, 4096)
	defer a.Free()
	if _, err := a.Alloc(100, 8); !errors.Is(err, ErrLimit) {
		t.Fatalf("without WaitFor: %v, want ErrLimit at once", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	a.WaitFor(ctx)
	before := tracker.Pressure()
	go func() {
		// Free only once the chunk below waits for the budget.
		testkit.Until(func() bool { return tracker.Pressure().LimitWaits != before.LimitWaits }, nil)
		held.Free()
	}()
	if _, err := a.Alloc(100, 8); err != nil {
		t.Fatalf("with WaitFor: %v", err)
	}
	short, cancel2 := context.WithTimeout(context.Background(), 5*time.Millisecond)
	defer cancel2()
	a.WaitFor(short)
	held2, _ := Alloc(tag, 4000)
	defer held2.Free()
	if _, err := a.Alloc(4000, 8); !errors.Is(err, ErrLimit) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("past the deadline: %v", err)
	}
}
