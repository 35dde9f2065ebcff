package timeline_test

import (
	"bytes"
	"context"
	"encoding/json"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/membridge/membridge/native"

	"github.com/membridge/membridge/tracker"
	"github.com/membridge/membridge/tracker/history"
	"github.com/membridge/membridge/tracker/internal/ledgertest"
	"github.com/membridge/membridge/tracker/leaktest"
	"github.com/membridge/membridge/tracker/sitereport"
	"github.com/membridge/membridge/tracker/timeline"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMain(m *testing.M) { leaktest.VerifyTestMain(m) }

// workload makes a history with a ramp of host memory, a device track, a
// limit refusal and a failed allocation.
func workload(t *testing.T) []history.Event {
	t.Helper()
	history.Enable(4096)
	t.Cleanup(history.Disable)
	var o ledgertest.Records
	for i := range 40 {
		o.Alloc(t, native.KindCHeap, -1, "tl-frames", int64(64<<10*(i%8+1)))
		if i%3 == 0 {
			o.Free()
		}
		// A ramp over time, as a real one: the page draws points a
		// pixel column apart only when their times differ.
		time.Sleep(time.Millisecond)
	}
	o.Alloc(t, kindDeviceEmulated, 0, "tl-weights", 3<<20)
	tracker.SetTagLimit("tl-limited", 1)
	if _, err := tracker.AllocateUnwatched(tracker.Request{Kind: native.KindCHeap, Device: -1, Tag: "tl-limited", Bytes: 2}, nil, nil); err == nil {
		t.Fatal("reservation over the tag limit succeeded")
	}
	tracker.SetTagLimit("tl-limited", 0)
	_, _ = tracker.AllocateUnwatched(tracker.Request{Kind: native.KindCHeap, Device: -1, Tag: "tl-oom", Bytes: 1 << 40},
		func() (uintptr, error) { return 0, tracker.ErrOutOfMemory }, nil)
	o.FreeAll()
	evs, _ := history.Events()
	return evs
}

func TestTraceHasCounterTracksAndInstantEvents(t *testing.T) {
	defer leaktest.VerifyNone(t)
	evs := workload(t)
	var buf bytes.Buffer
	require.NoError(t, timeline.WriteTrace(&buf, evs))
	var trace struct {
		TraceEvents []struct {
			Name string         `json:"name"`
			Ph   string         `json:"ph"`
			Ts   float64        `json:"ts"`
			Args map[string]any `json:"args"`
		} `json:"traceEvents"`
	}
	require.NoError(t, json.Unmarshal(buf.Bytes(), &trace), "trace is not JSON")
	counters := map[string]int{}
	instants := map[string]int{}
	var lastHost float64
	var prevTs float64
	for _, e := range trace.TraceEvents {
		switch e.Ph {
		case "C":
			counters[e.Name]++
			if e.Ts < prevTs {
				t.Errorf("counter event at %v after one at %v", e.Ts, prevTs)
			}
			prevTs = e.Ts
			if e.Name == "live bytes c-heap (host)" {
				lastHost = e.Args["bytes"].(float64)
			}
		case "i":
			instants[e.Name]++
		}
	}
	if counters["live bytes c-heap (host)"] < 40 || counters["live bytes device-emulated (0)"] < 2 {
		t.Errorf("counter tracks %v; want host and device 0 tracks", counters)
	}
	if lastHost != float64(tracker.KindStats(native.KindCHeap).LiveBytes) {
		t.Errorf("host track ends at %v, the ledger has %d live", lastHost, tracker.KindStats(native.KindCHeap).LiveBytes)
	}
	if instants["out of memory"] != 1 || instants["limit refused"] != 1 || instants["out-of-memory retry"] != 1 {
		t.Errorf("instant events %v; want one out of memory, one retry and one limit refusal", instants)
	}
}

func TestDumpOnAllocFailureWritesATrace(t *testing.T) {
	defer leaktest.VerifyNone(t)
	dir := t.TempDir()
	stop := timeline.DumpOnAllocFailure(dir, 1)
	defer stop()
	workload(t)
	_, _ = tracker.AllocateUnwatched(tracker.Request{Kind: native.KindCHeap, Device: -1, Tag: "tl-oom", Bytes: 1 << 40}, func() (uintptr, error) { return 0, tracker.ErrOutOfMemory }, nil) // a second failure: maxFiles is 1
	files, _ := filepath.Glob(filepath.Join(dir, "membridge-oom-*.json"))
	require.Len(t, files, 1, "trace files")
	data, _ := os.ReadFile(files[0])
	if !strings.Contains(string(data), `"out of memory"`) || !json.Valid(data) {
		t.Errorf("dumped trace lacks the failure or is not JSON: %.200s", data)
	}
}

func page(t *testing.T) []byte {
	t.Helper()
	evs := workload(t)
	var o ledgertest.Records
	defer o.FreeAll()
	o.Alloc(t, native.KindCHeap, -1, "tl-site", 5<<20)
	var buf bytes.Buffer
	require.NoError(t, timeline.WriteHTML(&buf, evs, 7, sitereport.Take(5)))
	return buf.Bytes()
}

func TestPageIsSelfContained(t *testing.T) {
	defer leaktest.VerifyNone(t)
	html := string(page(t))
	for _, want := range []string{"<svg", "c-heap (host)", "device-emulated (0)", "tl-site", "7 older ones", "1 failed allocations", "1 retries after out-of-memory", "TestPageIsSelfContained"} {
		assert.Contains(t, html, want, "page lacks")
	}
	for _, banned := range []string{"<script", "http://", "https://", "@import", "url("} {
		if strings.Contains(strings.ReplaceAll(html, `xmlns="http://www.w3.org/2000/svg"`, ""), banned) {
			t.Errorf("page contains %q: it must not fetch anything", banned)
		}
	}
}

// requireChromium is the variable that turns a missing browser from a skip
// into a failure. CI's step that installs Chromium sets it; a user's own CI
// variables do not change what make test needs.
const requireChromium = "MEMBRIDGE_REQUIRE_CHROMIUM"

// chromium returns the path of headless Chromium, or skips the test when
// there is none, unless MEMBRIDGE_REQUIRE_CHROMIUM=1 asks for it.
func chromium(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv(requireChromium) == "1" {
		t.Fatal(requireChromium + "=1 but there is no chromium to test the timeline page with (apt-get install chromium)")
	}
	t.Skip("no chromium on PATH: the timeline page's browser test needs Debian's chromium package (" + requireChromium + "=1 makes it required)")
	return ""
}

// Screenshot renders html in headless Chromium and returns the PNG.
func screenshot(t *testing.T, browser, html string) []byte {
	dir := t.TempDir()
	file := filepath.Join(dir, "page.html")
	shot := filepath.Join(dir, "shot.png")
	require.NoError(t, os.WriteFile(file, []byte(html), 0o644))
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
		"--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--hide-scrollbars", "--user-data-dir="+filepath.Join(dir, "profile"), "--window-size=1000,700",
		"--screenshot="+shot, "file://"+file)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("chromium: %v\n%s", err, out)
	}
	data, err := os.ReadFile(shot)
	require.NoError(t, err, "chromium wrote no screenshot")
	return data
}

func TestPageShowsThePlotInChromium(t *testing.T) {
	defer leaktest.VerifyNone(t)
	browser := chromium(t)
	data := screenshot(t, browser, string(page(t)))
	img, err := png.Decode(bytes.NewReader(data))
	require.NoError(t, err, "screenshot")
	// The first track is drawn in #1f77b4 and the second in #ff7f0e; count
	// pixels of those colours inside the plot's area.
	var first, second int
	b := img.Bounds()
	for y := b.Min.Y; y < min(b.Max.Y, 500); y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			r, g, bl = r>>8, g>>8, bl>>8
			if near(r, 0x1f) && near(g, 0x77) && near(bl, 0xb4) {
				first++
			}
			if near(r, 0xff) && near(g, 0x7f) && near(bl, 0x0e) {
				second++
			}
		}
	}
	// A 2-pixel line across the 860-pixel plot is well over 800 pixels.
	if first < 800 || second < 400 {
		t.Errorf("the screenshot shows %d pixels of the first track and %d of the second; want a plotted line of each", first, second)
	}
	if dir := os.Getenv("MEMBRIDGE_SCREENSHOT_DIR"); dir != "" {
		os.WriteFile(filepath.Join(dir, "timeline-test.png"), data, 0o644)
	}
}

func near(a, b uint32) bool { return a+12 >= b && a <= b+12 }

func ExampleWriteTrace() {
	history.Enable(1 << 16)
	defer history.Disable()
	// ... run the workload, then:
	events, _ := history.Events()
	f, err := os.Create(filepath.Join(os.TempDir(), "membridge-trace.json"))
	if err != nil {
		panic(err)
	}
	defer f.Close()
	if err := timeline.WriteTrace(f, events); err != nil {
		panic(err)
	}
	// Open the file in ui.perfetto.dev or chrome://tracing.
	// Output:
}

func ExampleWriteHTML() {
	events, lost := history.Events()
	var page bytes.Buffer
	if err := timeline.WriteHTML(&page, events, lost, sitereport.Take(20)); err != nil {
		panic(err)
	}
	// Output:
}

func ExampleDumpOnAllocFailure() {
	history.Enable(1 << 16)
	defer history.Disable()
	stop := timeline.DumpOnAllocFailure(os.TempDir(), 3)
	defer stop()
	// Output:
}

// The browser test's need for Chromium follows MEMBRIDGE_REQUIRE_CHROMIUM
// alone: CI=true without a browser skips it.
func TestChromiumIsRequiredOnlyByItsOwnVariable(t *testing.T) {
	if os.Getenv("MEMBRIDGE_TIMELINE_CHILD") != "" {
		t.Skip("in the child")
	}
	exe, err := os.Executable()
	require.NoError(t, err)
	for _, c := range []struct {
		env  []string
		want string
	}{
		{[]string{"CI=true"}, "--- SKIP: TestPageShowsThePlotInChromium"},
		{[]string{"CI=true", requireChromium + "=0"}, "--- SKIP: TestPageShowsThePlotInChromium"},
		{[]string{requireChromium + "=1"}, "--- FAIL: TestPageShowsThePlotInChromium"},
	} {
		cmd := exec.Command(exe, "-test.run=^TestPageShowsThePlotInChromium$", "-test.v", "-test.count=1")
		// No browser on an empty PATH.
		cmd.Env = append([]string{"PATH=", "MEMBRIDGE_TIMELINE_CHILD=1"}, c.env...)
		out, _ := cmd.CombinedOutput()
		assert.Contains(t, string(out), c.want, "with %v and no chromium: want %q in\n%s", c.env, c.want, out)
	}
}

// kindDeviceEmulated stands for package cuda's host-backend kind, by its
// name, without linking cuda (and, under the cuda tag, a driver).
var kindDeviceEmulated = ledgertest.MustKind("device-emulated")
