package main

import (
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/membridge/membridge/internal/testkit"
	"github.com/membridge/membridge/tracker"
	"github.com/membridge/membridge/tracker/leaktest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMain(m *testing.M) { leaktest.VerifyTestMain(m) }

// scratchLine is the line of decoder.go where decode allocates its scratch
// buffers, found in the source so that edits above it keep the test true.
func scratchLine(t *testing.T) string {
	t.Helper()
	src, err := os.ReadFile("decoder.go")
	require.NoError(t, err)
	for i, line := range strings.Split(string(src), "\n") {
		if strings.Contains(line, `native.Alloc("scratch"`) {
			return strconv.Itoa(i + 1)
		}
	}
	t.Fatal(`decoder.go has no native.Alloc("scratch", ...)`)
	return ""
}

var frames = [][]byte{frame("abc"), frame("defg")}

func TestFixedDecoderLeavesNothing(t *testing.T) {
	defer leaktest.VerifyNone(t)
	out, err := decodeFramesFixed(frames)
	require.NoError(t, err)
	require.EqualValues(t, "abcdefg", string(out.Bytes()), "decoded %q", out.Bytes())
	out.Free()
}

// The leaking decoder is a fixture that must fail: the test mode has to
// report its scratch buffers with their tag, the decoder's line and this
// test's name. If it ever stops doing so, this test fails.
func TestLeakingDecoderIsCaught(t *testing.T) {
	out, err := decodeFrames(frames)
	require.NoError(t, err)
	out.Free()
	// The scratch handles are unreachable now; the safety net reclaims them
	// at a garbage collection and keeps them for the report.
	testkit.Eventually(t, func(c *assert.CollectT) {
		tracker.GC()
		assert.Zero(c, tracker.TagStats("scratch").LiveCount, "scratch handles live")
	})
	var rt leaktest.Recorder
	leaktest.VerifyNone(&rt, leaktest.MaxWait(10*time.Millisecond))
	rep := rt.Report()
	for _, want := range []string{
		"LEAK of 7 bytes in 2 allocations",
		`tag "scratch"`,
		"made by TestLeakingDecoderIsCaught",
		"2 dropped without Free",
		"leakdemo.decode\n",
		"decoder.go:" + scratchLine(t),
	} {
		assert.Contains(t, rep, want, "leak report lacks")
	}
}

// TestLeakingDecoderFails shows the failure a person sees; it runs only
// with MEMBRIDGE_LEAKDEMO=1, since it fails by design.
func TestLeakingDecoderFails(t *testing.T) {
	if os.Getenv("MEMBRIDGE_LEAKDEMO") != "1" {
		t.Skip("set MEMBRIDGE_LEAKDEMO=1 to watch this test fail on its leak")
	}
	defer leaktest.VerifyNone(t, leaktest.MaxWait(10*time.Millisecond))
	out, err := decodeFrames(frames)
	require.NoError(t, err)
	out.Free()
}
