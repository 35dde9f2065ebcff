package memprofile_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/pprof/profile"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/membridge/membridge/cuda"
	"github.com/membridge/membridge/internal/testkit"
	"github.com/membridge/membridge/native"
	"github.com/membridge/membridge/tracker"
	"github.com/membridge/membridge/tracker/internal/ledgertest"
	"github.com/membridge/membridge/tracker/leaktest"
	"github.com/membridge/membridge/tracker/memprofile"
)

func TestMain(m *testing.M) { leaktest.VerifyTestMain(m) }

//go:noinline
func decodeFrames(t testing.TB, o *ledgertest.Records, tag string, n int) {
	for range n {
		o.Alloc(t, native.KindCHeap, -1, tag, 1000)
	}
}

//go:noinline
func uploadWeights(t testing.TB, o *ledgertest.Records, tag string) {
	o.Alloc(t, cuda.KindDeviceEmulated, 0, tag, 1<<20)
}

func parse(t *testing.T, data []byte) *profile.Profile {
	t.Helper()
	p, err := profile.Parse(bytes.NewReader(data))
	require.NoError(t, err, "parse")
	return p
}

// totals sums a sample type per label value.
func totals(p *profile.Profile, sampleType, label string) map[string]int64 {
	idx := -1
	for i, st := range p.SampleType {
		if st.Type == sampleType {
			idx = i
		}
	}
	out := map[string]int64{}
	for _, s := range p.Sample {
		for _, v := range s.Label[label] {
			out[v] += s.Value[idx]
		}
	}
	return out
}

func hasFunction(p *profile.Profile, suffix string) bool {
	for _, f := range p.Function {
		if strings.HasSuffix(f.Name, suffix) {
			return true
		}
	}
	return false
}

func TestProfileHasLiveAndAllocatedBytesPerTagWithStacks(t *testing.T) {
	defer leaktest.VerifyNone(t)
	var o ledgertest.Records
	defer o.FreeAll()
	// Tags of this run only: allocated bytes are counted since the start
	// of the process, and -count>1 runs the test again in it.
	frames, weights := testkit.UniqueTag(t, "prof-frames"), testkit.UniqueTag(t, "prof-weights")
	decodeFrames(t, &o, frames, 5)
	uploadWeights(t, &o, weights)
	// Freed memory counts as allocated, not as live.
	var gone ledgertest.Records
	decodeFrames(t, &gone, frames, 2)
	gone.FreeAll()

	var buf bytes.Buffer
	require.NoError(t, memprofile.Write(&buf))
	p := parse(t, buf.Bytes())
	if p.DefaultSampleType != "inuse_space" || len(p.SampleType) != 4 {
		t.Fatalf("sample types %v, default %q", p.SampleType, p.DefaultSampleType)
	}
	inuse := totals(p, "inuse_space", "tag")
	alloc := totals(p, "alloc_space", "tag")
	objs := totals(p, "inuse_objects", "tag")
	if inuse[frames] != 5000 || objs[frames] != 5 || alloc[frames] != 7000 {
		t.Errorf("%s: inuse %d bytes in %d objects, alloc %d; want 5000, 5, 7000",
			frames, inuse[frames], objs[frames], alloc[frames])
	}
	if inuse[weights] != 1<<20 {
		t.Errorf("%s: inuse %d, want %d", weights, inuse[weights], 1<<20)
	}
	if dev := totals(p, "inuse_space", "device"); dev["0"] < 1<<20 {
		t.Errorf("device 0 has %d live bytes, want at least 1 MiB", dev["0"])
	}
	if kinds := totals(p, "inuse_space", "kind"); kinds["device-emulated"] < 1<<20 {
		t.Errorf("kind device-emulated has %d live bytes", kinds["device-emulated"])
	}
	for _, fn := range []string{"decodeFrames", "uploadWeights", "TestProfileHasLiveAndAllocatedBytesPerTagWithStacks"} {
		assert.True(t, hasFunction(p, fn), "no function %s in the profile", fn)
	}
}

func TestSampledProfileIsScaledToTheTotal(t *testing.T) {
	defer leaktest.VerifyNone(t)
	defer tracker.SetStackRate(tracker.SetStackRate(16 << 10))
	var o ledgertest.Records
	defer o.FreeAll()
	const n, size = 4000, 1024 // 4000 KiB: about 250 samples
	for range n {
		o.Alloc(t, native.KindCHeap, -1, "prof-sampled", size)
	}
	p, err := memprofile.Build()
	require.NoError(t, err)
	got := totals(p, "inuse_space", "tag")["prof-sampled"]
	objs := totals(p, "inuse_objects", "tag")["prof-sampled"]
	// Poisson noise on ~250 samples is about 6%; 25% is far outside it.
	if want := int64(n * size); got < want*3/4 || got > want*5/4 {
		t.Errorf("scaled live bytes %d, want about %d", got, want)
	}
	if objs < n*3/4 || objs > n*5/4 {
		t.Errorf("scaled live objects %d, want about %d", objs, n)
	}
	if p.Period != 16<<10 {
		t.Errorf("period %d, want the stack rate", p.Period)
	}
}

func TestOffModeProfileHasExactTotalsWithoutStacks(t *testing.T) {
	defer leaktest.VerifyNone(t)
	defer tracker.SetStackRate(tracker.SetStackRate(0))
	var o ledgertest.Records
	defer o.FreeAll()
	for range 3 {
		o.Alloc(t, native.KindCHeap, -1, "prof-off", 300)
	}
	p, err := memprofile.Build()
	require.NoError(t, err)
	assert.EqualValues(t, 900, totals(p, "inuse_space", "tag")["prof-off"], "live bytes")
	assert.True(t, hasFunction(p, `c-heap "prof-off" (no stack)`), "no stand-in frame for memory without stacks")
}

// goTool returns the go command: go test puts its own GOROOT/bin first on
// the PATH of the test binary.
func goTool(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	require.NoError(t, err, "no go command to run go tool pprof with")
	return goBin
}

func TestGoToolPprofReadsTheProfileAndDiffsIt(t *testing.T) {
	defer leaktest.VerifyNone(t)
	dir := t.TempDir()
	var o ledgertest.Records
	defer o.FreeAll()
	decodeFrames(t, &o, "prof-pprof", 2)
	base := filepath.Join(dir, "base.pb.gz")
	require.NoError(t, memprofile.WriteFile(base))
	uploadWeights(t, &o, "prof-pprof")
	later := filepath.Join(dir, "later.pb.gz")
	require.NoError(t, memprofile.WriteFile(later))
	goBin := goTool(t)
	out, err := exec.Command(goBin, "tool", "pprof", "-top", "-nodefraction=0", "-tagfocus=tag=prof-pprof", later).CombinedOutput()
	require.NoError(t, err, "go tool pprof -top:\n%s", out)
	for _, want := range []string{"inuse_space", "decodeFrames", "uploadWeights"} {
		assert.Contains(t, string(out), want, "pprof -top lacks %q:\n%s", want, out)
	}
	out, err = exec.Command(goBin, "tool", "pprof", "-list", "decodeFrames", later).CombinedOutput()
	require.NoError(t, err, "go tool pprof -list:\n%s", out)
	// The source of the allocating line, with the bytes it holds.
	if !strings.Contains(string(out), "o.Alloc(t, native.KindCHeap, -1, tag, 1000)") || !strings.Contains(string(out), "1.95kB") {
		t.Errorf("pprof -list lacks decodeFrames' allocating line and its 2000 bytes:\n%s", out)
	}
	out, err = exec.Command(goBin, "tool", "pprof", "-top", "-nodefraction=0", "-diff_base", base, later).CombinedOutput()
	require.NoError(t, err, "go tool pprof -diff_base:\n%s", out)
	// Only the weights were added between the two profiles.
	if !strings.Contains(string(out), "uploadWeights") || !strings.Contains(string(out), "1MB") {
		t.Errorf("diff lacks the 1 MiB of uploadWeights:\n%s", out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if strings.Contains(line, "decodeFrames") && !strings.HasPrefix(strings.TrimSpace(line), "0 ") {
			t.Errorf("decodeFrames did not change, yet the diff shows %q", line)
		}
	}
}

func TestHandlerServesTheProfile(t *testing.T) {
	defer leaktest.VerifyNone(t)
	var o ledgertest.Records
	defer o.FreeAll()
	decodeFrames(t, &o, "prof-http", 1)
	srv := httptest.NewServer(memprofile.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/debug/pprof/membridge?gc=1")
	require.NoError(t, err)
	defer resp.Body.Close()
	var buf bytes.Buffer
	buf.ReadFrom(resp.Body)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/octet-stream" {
		t.Fatalf("status %d, content type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	assert.EqualValues(t, 1000, totals(parse(t, buf.Bytes()), "inuse_space", "tag")["prof-http"], "bytes in the served profile")
}

func ExampleHandler() {
	mux := http.NewServeMux()
	mux.Handle("/debug/pprof/membridge", memprofile.Handler())
	// http.ListenAndServe("localhost:6060", mux), then:
	//   go tool pprof http://localhost:6060/debug/pprof/membridge
	// Output:
}

func ExampleWriteFile() {
	if err := memprofile.WriteFile(filepath.Join(os.TempDir(), "membridge.pb.gz")); err != nil {
		panic(err)
	}
	// Then: go tool pprof -top /tmp/membridge.pb.gz
	// Output:
}

//go:noinline
func loadTable(t *testing.T, tag string) *native.Buffer {
	b, err := native.Alloc(tag, 4096)
	require.NoError(t, err)
	return b
}

//go:noinline
func uploadTable(t *testing.T, c *cuda.Context, tag string) *cuda.DeviceBuffer {
	d, err := c.Alloc(tag, 8192)
	require.NoError(t, err)
	return d
}

// isMembridgeFrame tells the frames of membridge's own allocation paths.
func isMembridgeFrame(fn string) bool {
	for _, pkg := range []string{"tracker", "native", "cuda", "cache", "cext", "batch", "handle"} {
		if strings.HasPrefix(fn, "github.com/membridge/membridge/"+pkg+".") {
			return true
		}
	}
	return false
}

func TestProfileStartsStacksAtTheUsersCall(t *testing.T) {
	defer leaktest.VerifyNone(t)
	defer tracker.SetStackRate(tracker.SetStackRate(1))
	c, err := cuda.Open(0)
	require.NoError(t, err)
	defer c.Close()
	hostTag, devTag := testkit.UniqueTag(t, "prof-user-host"), testkit.UniqueTag(t, "prof-user-device")
	b := loadTable(t, hostTag)
	defer b.Free()
	d := uploadTable(t, c, devTag)
	defer d.Free()

	p, err := memprofile.Build()
	require.NoError(t, err)
	leaves := map[string]string{}
	for _, s := range p.Sample {
		tag := s.Label["tag"][0]
		if tag != hostTag && tag != devTag {
			continue
		}
		require.NotEmpty(t, s.Location, "sample of %s has no stack", tag)
		require.NotEmpty(t, s.Location[0].Line)
		leaves[tag] = s.Location[0].Line[0].Function.Name
		for _, l := range s.Location {
			for _, ln := range l.Line {
				assert.False(t, isMembridgeFrame(ln.Function.Name), "%s: the stack keeps membridge's own frame %s", tag, ln.Function.Name)
			}
		}
	}
	// The flat bytes, the leaf's, go to the user's function.
	assert.True(t, strings.HasSuffix(leaves[hostTag], ".loadTable"), "host leaf %q", leaves[hostTag])
	assert.True(t, strings.HasSuffix(leaves[devTag], ".uploadTable"), "device leaf %q", leaves[devTag])

	out, err := exec.Command(goTool(t), "tool", "pprof", "-top", "-nodefraction=0", "-tagfocus=tag="+hostTag, writeTemp(t, p)).CombinedOutput()
	require.NoError(t, err, "%s", out)
	// The first row of -top is the function with the most flat bytes.
	var first string
	lines := strings.Split(string(out), "\n")
	for i, line := range lines {
		if strings.Contains(line, "flat%") && i+1 < len(lines) {
			first = lines[i+1]
			break
		}
	}
	assert.Contains(t, first, "loadTable", "pprof -top:\n%s", out)
}

func writeTemp(t *testing.T, p *profile.Profile) string {
	t.Helper()
	name := filepath.Join(t.TempDir(), "p.pb.gz")
	f, err := os.Create(name)
	require.NoError(t, err)
	require.NoError(t, p.Write(f))
	require.NoError(t, f.Close())
	return name
}

func get(t *testing.T, url string) (int, []byte) {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	var buf bytes.Buffer
	_, err = buf.ReadFrom(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, buf.Bytes()
}

func TestHandlerServesADeltaProfileWithSeconds(t *testing.T) {
	defer leaktest.VerifyNone(t)
	before, during := testkit.UniqueTag(t, "prof-delta-before"), testkit.UniqueTag(t, "prof-delta-during")
	var kept, freed ledgertest.Records
	defer kept.FreeAll()
	decodeFrames(t, &kept, before, 3)
	decodeFrames(t, &freed, before, 2)
	// Inside the window: 4 allocations of a new tag, and 2 of the old
	// ones freed.
	defer memprofile.SetAfterBase(func() {
		decodeFrames(t, &kept, during, 4)
		freed.FreeAll()
	})()
	srv := httptest.NewServer(memprofile.Handler())
	defer srv.Close()

	start := time.Now()
	code, body := get(t, srv.URL+"?seconds=1")
	require.Equal(t, 200, code, "%s", body)
	assert.GreaterOrEqual(t, time.Since(start), time.Second)
	p := parse(t, body)
	assert.GreaterOrEqual(t, p.DurationNanos, int64(time.Second), "the window's duration")
	alloc, inuse := totals(p, "alloc_space", "tag"), totals(p, "inuse_space", "tag")
	assert.EqualValues(t, 4000, alloc[during], "allocated in the window")
	assert.EqualValues(t, 4000, inuse[during], "live growth in the window")
	assert.EqualValues(t, 0, alloc[before], "nothing of %s was allocated in the window", before)
	assert.EqualValues(t, -2000, inuse[before], "the frees in the window")

	// The whole profile, without seconds, still has everything.
	code, body = get(t, srv.URL)
	require.Equal(t, 200, code)
	assert.EqualValues(t, 7000, totals(parse(t, body), "inuse_space", "tag")[before]+totals(parse(t, body), "inuse_space", "tag")[during])
}

func TestHandlerRefusesBadSeconds(t *testing.T) {
	defer leaktest.VerifyNone(t)
	srv := httptest.NewUnstartedServer(memprofile.Handler())
	srv.Config.WriteTimeout = 5 * time.Second
	srv.Start()
	defer srv.Close()
	for _, s := range []string{"0", "-1", "x", "1.5", "9223372036854775808", "5", "60"} {
		code, body := get(t, srv.URL+"?seconds="+s)
		assert.Equal(t, http.StatusBadRequest, code, "seconds=%s: %s", s, body)
		assert.Contains(t, string(body), "memprofile: seconds=", "seconds=%s", s)
	}
}

func TestDeltaEndsWhenTheClientGoesAway(t *testing.T) {
	defer leaktest.VerifyNone(t)
	srv := httptest.NewServer(memprofile.Handler())
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer memprofile.SetAfterBase(cancel)() // the client leaves once the window starts
	req, err := http.NewRequestWithContext(ctx, "GET", srv.URL+"?seconds=3600", nil)
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	select {
	case err := <-done:
		require.ErrorIs(t, err, context.Canceled)
	case <-time.After(time.Minute):
		t.Fatal("the request did not end with its client")
	}
	// The server's handler returns too: Close waits for it.
	srv.Close()
}

func ExampleHandler_delta() {
	mux := http.NewServeMux()
	mux.Handle("/debug/pprof/membridge", memprofile.Handler())
	// What was allocated in the next 30 seconds, and how live memory changed:
	//   go tool pprof -seconds 30 http://localhost:6060/debug/pprof/membridge
	//   go tool pprof -sample_index=alloc_space -top 'http://localhost:6060/debug/pprof/membridge?seconds=30'

	// Output:
}

// keptBlocks is an allocator cache holding fixed blocks, as package
// native's magazines and package cuda's device cache report theirs.
type keptBlocks []tracker.Cached

func (k keptBlocks) Cached(dst []tracker.Cached) []tracker.Cached { return append(dst, k...) }
func (keptBlocks) Trim(tracker.Shortage) int64                    { return 0 }

// kindCachedTest is a kind only the test of cached memory caches.
var kindCachedTest = ledgertest.MustKind("cached-test-profile")

// sampleOf returns the one sample whose location is the function fn.
func sampleOf(t *testing.T, p *profile.Profile, fn string) *profile.Sample {
	t.Helper()
	var found []*profile.Sample
	for _, s := range p.Sample {
		for _, l := range s.Location {
			for _, line := range l.Line {
				if line.Function.Name == fn {
					found = append(found, s)
				}
			}
		}
	}
	require.Len(t, found, 1, "samples under %q", fn)
	return found[0]
}

// Memory the allocators keep for reuse is in the profile beside what is
// live, as samples of their own: in use, per kind and device, under a
// frame that says so and labelled cached=true, never on a user's stack and
// never counted as allocated again.
func TestProfileShowsCachedMemoryApart(t *testing.T) {
	defer leaktest.VerifyNone(t)
	var o ledgertest.Records
	defer o.FreeAll()
	tag := testkit.UniqueTag(t, "prof-live")
	decodeFrames(t, &o, tag, 3)
	defer tracker.RegisterAllocatorCache("magazines", keptBlocks{
		{Kind: kindCachedTest, Device: -1, Bytes: 64 << 10, Blocks: 16},
	})()
	defer tracker.RegisterAllocatorCache("device cache", keptBlocks{
		{Kind: kindCachedTest, Device: 2, Bytes: 1 << 20, Blocks: 1},
		{Kind: kindCachedTest, Device: 2, Bytes: 1 << 20, Blocks: 3},
	})()

	var buf bytes.Buffer
	require.NoError(t, memprofile.Write(&buf))
	p := parse(t, buf.Bytes())
	host := sampleOf(t, p, "membridge: cached (cached-test-profile, host)")
	dev := sampleOf(t, p, "membridge: cached (cached-test-profile, 2)")
	// alloc_objects, alloc_space, inuse_objects, inuse_space.
	assert.Equal(t, []int64{0, 0, 16, 64 << 10}, host.Value)
	assert.Equal(t, []int64{0, 0, 4, 2 << 20}, dev.Value)
	assert.Equal(t, map[string][]string{"kind": {"cached-test-profile"}, "device": {"2"}, "cached": {"true"}}, dev.Label)
	assert.Len(t, dev.Location, 1, "cached memory is on no user's stack")
	// What is live is as it was, and no live sample says cached.
	assert.EqualValues(t, 3000, totals(p, "inuse_space", "tag")[tag])
	cached := totals(p, "inuse_space", "cached")["true"]
	assert.GreaterOrEqual(t, cached, int64(64<<10+2<<20))
	for _, s := range p.Sample {
		if len(s.Label["tag"]) > 0 {
			assert.Empty(t, s.Label["cached"], "a live sample labelled cached")
		}
	}

	// go tool pprof shows it by its frame, and -tagignore leaves it out.
	file := filepath.Join(t.TempDir(), "cached.pb.gz")
	require.NoError(t, os.WriteFile(file, buf.Bytes(), 0o644))
	goBin := goTool(t)
	out, err := exec.Command(goBin, "tool", "pprof", "-top", "-nodefraction=0", file).CombinedOutput()
	require.NoError(t, err, "go tool pprof -top:\n%s", out)
	assert.Contains(t, string(out), "membridge: cached (cached-test-profile, 2)")
	out, err = exec.Command(goBin, "tool", "pprof", "-top", "-nodefraction=0", "-tagignore=cached=true", file).CombinedOutput()
	require.NoError(t, err, "go tool pprof -top -tagignore:\n%s", out)
	assert.NotContains(t, string(out), "membridge: cached")
	assert.Contains(t, string(out), "decodeFrames")
}
