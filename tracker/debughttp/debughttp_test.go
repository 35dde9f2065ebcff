package debughttp_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/membridge/membridge/native"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/membridge/membridge/internal/testkit"
	"github.com/membridge/membridge/tracker"
	"github.com/membridge/membridge/tracker/debughttp"
	"github.com/membridge/membridge/tracker/history"
	"github.com/membridge/membridge/tracker/internal/ledgertest"
	"github.com/membridge/membridge/tracker/leaktest"
	"github.com/membridge/membridge/tracker/sitereport"
)

func TestMain(m *testing.M) { leaktest.VerifyTestMain(m) }

func get(t *testing.T, url string) (string, string, int) {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return string(body), resp.Header.Get("Content-Type"), resp.StatusCode
}

func TestEndpointServesEveryView(t *testing.T) {
	defer leaktest.VerifyNone(t)
	history.Enable(256)
	defer history.Disable()
	r, err := tracker.AllocateUnwatched(tracker.Request{Kind: native.KindCHeap, Device: -1, Tag: "debug-frames", Bytes: 12345, Addr: 0x1000}, nil, nil)
	require.NoError(t, err)
	defer r.Release()

	mux := http.NewServeMux()
	mux.Handle("/debug/membridge/", debughttp.Handler())
	srv := httptest.NewServer(mux)
	defer srv.Close()
	base := srv.URL + "/debug/membridge/"

	for _, c := range []struct {
		path, contentType, want string
	}{
		{"", "text/html", `href="timeline"`},
		{"report.txt", "text/plain", `12.1 KiB`},
		{"report.json?top=1", "application/json", `"tag": "debug-frames"`},
		{"profile?gc=1", "application/octet-stream", "\x1f\x8b"},      // gzip
		{"profile?seconds=1", "application/octet-stream", "\x1f\x8b"}, // the delta form
		{"trace.json", "application/json", `"live bytes c-heap (host)"`},
		{"timeline", "text/html", `debug-frames`},
	} {
		body, ct, code := get(t, base+c.path)
		if code != 200 || !strings.HasPrefix(ct, c.contentType) || !strings.Contains(body, c.want) {
			t.Errorf("%s: status %d, content type %q; want %s containing %q; got %.300q", c.path, code, ct, c.contentType, c.want, body)
		}
		if strings.HasSuffix(c.contentType, "json") && !json.Valid([]byte(body)) {
			t.Errorf("%s is not valid JSON", c.path)
		}
	}
	if _, _, code := get(t, base+"nothing-here"); code != 404 {
		t.Errorf("unknown page: status %d, want 404", code)
	}
	if _, _, code := get(t, base+"report.txt?top=x"); code != 400 {
		t.Errorf("bad top: status %d, want 400", code)
	}
}

func ExampleHandler() {
	http.Handle("/debug/membridge/", debughttp.Handler())
	// go http.ListenAndServe("localhost:6060", nil); then open
	// http://localhost:6060/debug/membridge/ in a browser, or run
	//   go tool pprof http://localhost:6060/debug/membridge/profile
	// Output:
}

type watched struct{ rec *tracker.Record }

// dropOne makes a handle the program drops without a free, and waits for
// the safety net to find it.
func dropOne(t *testing.T, tag string) {
	t.Helper()
	defer tracker.SetLeakPolicy(tracker.SetLeakPolicy(tracker.LeakFree))
	tracker.SetLeakHandler(func(*tracker.Record) {})
	defer tracker.SetLeakHandler(nil)
	reclaimed := make(chan struct{}, 1)
	func() {
		w := &watched{}
		rec, err := tracker.Allocate(w, tracker.Request{Kind: native.KindCHeap, Device: -1, Tag: tag, Bytes: 512, Addr: 0xdead000}, nil,
			tracker.ReclaimFunc(func(*tracker.Record) { reclaimed <- struct{}{} }))
		require.NoError(t, err)
		w.rec = rec
	}()
	testkit.Eventually(t, func(c *assert.CollectT) {
		tracker.GC()
		select {
		case <-reclaimed:
		default:
			c.Errorf("the safety net did not find the dropped handle")
		}
	})
}

func TestIndexIsALiveSummary(t *testing.T) {
	defer leaktest.VerifyNone(t)
	frames, weights, leaky := testkit.UniqueTag(t, "idx-frames"), testkit.UniqueTag(t, "idx-weights"), testkit.UniqueTag(t, "idx-leaky")
	f := ledgertest.Commit(t, native.KindCHeap, -1, frames, 3<<20)
	defer f.Release()
	w := ledgertest.Commit(t, kindDeviceEmulated, 1, weights, 5<<20)
	defer w.Release()
	dropOne(t, leaky)
	tracker.SetTagLimit(frames, 4<<20)
	defer tracker.SetTagLimit(frames, 0)
	devLive := tracker.KindStats(kindDeviceEmulated).LiveBytes
	tracker.SetLimit(kindDeviceEmulated, devLive+(256<<10)) // under a tenth of headroom left
	defer tracker.SetLimit(kindDeviceEmulated, 0)

	srv := httptest.NewServer(debughttp.Handler())
	defer srv.Close()
	body, ct, code := get(t, srv.URL+"/debug/membridge/?top=3")
	require.Equal(t, 200, code)
	require.True(t, strings.HasPrefix(ct, "text/html"))
	row := func(name string) string {
		i := strings.Index(body, "<tr><td>"+name+"</td>")
		require.GreaterOrEqual(t, i, 0, "no row for %s in\n%s", name, body)
		return body[i : i+strings.Index(body[i:], "</tr>")]
	}
	// Tags: live bytes, the limit and its headroom.
	assert.Contains(t, row(frames), "3.0 MiB")
	assert.Contains(t, row(frames), "<td class=\"n\">4.0 MiB</td>")
	assert.Contains(t, row(frames), "1.0 MiB (75% used)")
	assert.Contains(t, row(weights), "5.0 MiB")
	// The dropped handle, on its tag's row and in the headline.
	assert.Contains(t, row(leaky), `<td class="n warn">1</td>`)
	assert.Contains(t, body, "dropped without Free: leaks the safety net found")
	// The kind's limit, with its headroom flagged as short.
	assert.Contains(t, row("device-emulated"), `<td class="n warn">256.0 KiB (`)
	// Devices.
	assert.Contains(t, row("1"), "5.0 MiB")
	// The top sites, the largest first, at the first frame outside membridge.
	sites := body[strings.Index(body, "allocation sites by live bytes"):]
	assert.Less(t, strings.Index(sites, weights), strings.Index(sites, frames), "sites by live bytes")
	assert.Contains(t, sites, "ledgertest.Commit ")
	assert.Contains(t, body, `href="timeline"`)
}

// Past the tag cap, the index says how many tags overflowed and shows
// their memory on the overflow tag's row.
func TestIndexShowsOverflowedTags(t *testing.T) {
	defer leaktest.VerifyNone(t)
	kept := ledgertest.Commit(t, native.KindCHeap, -1, testkit.UniqueTag(t, "idx-kept"), 1)
	defer kept.Release()
	defer tracker.SetMaxTags(tracker.SetMaxTags(tracker.TagsKept()))
	over := ledgertest.Commit(t, native.KindCHeap, -1, testkit.UniqueTag(t, "idx-request"), 3<<20)
	defer over.Release()
	require.Equal(t, tracker.OverflowTag, over.Tag())

	srv := httptest.NewServer(debughttp.Handler())
	defer srv.Close()
	body, _, code := get(t, srv.URL+"/debug/membridge/")
	require.Equal(t, 200, code)
	assert.Contains(t, body, fmt.Sprintf("%d tags kept of at most %d.", tracker.TagsKept(), tracker.MaxTags()))
	assert.Contains(t, body, fmt.Sprintf(`<span class="warn">%d tags overflowed: their memory is counted under the tag (overflow).`, tracker.TagsOverflowed()))
	i := strings.Index(body, "<tr><td>(overflow)</td>")
	require.GreaterOrEqual(t, i, 0, "no row for the overflow tag in\n%s", body)
	assert.Contains(t, body[i:i+strings.Index(body[i:], "</tr>")], "MiB")
}

// kindDeviceEmulated stands for package cuda's host-backend kind, by its
// name, without linking cuda (and, under the cuda tag, a driver).
var kindDeviceEmulated = ledgertest.MustKind("device-emulated")

// keptBlocks is an allocator cache holding fixed blocks, as package
// native's magazines and package cuda's device cache report theirs.
type keptBlocks []tracker.Cached

func (k keptBlocks) Cached(dst []tracker.Cached) []tracker.Cached { return append(dst, k...) }
func (keptBlocks) Trim(tracker.Shortage) int64                    { return 0 }

// Memory the allocators keep for reuse has its own rows on the index, per
// kind and device, and its sum in the headline; it is not live and not a
// leak.
func TestIndexShowsMemoryKeptForReuse(t *testing.T) {
	defer leaktest.VerifyNone(t)
	srv := httptest.NewServer(debughttp.Handler())
	defer srv.Close()
	if len(tracker.CachedStats()) == 0 {
		body, _, code := get(t, srv.URL+"/debug/membridge/")
		require.Equal(t, 200, code)
		assert.NotContains(t, body, "kept for reuse", "no section while nothing is cached")
	}

	defer tracker.RegisterAllocatorCache("magazines", keptBlocks{
		{Kind: kindCachedTest, Device: -1, Bytes: 3 << 20, Blocks: 48},
	})()
	defer tracker.RegisterAllocatorCache("device cache", keptBlocks{
		{Kind: kindDeviceEmulated, Device: 9, Bytes: 2 << 20, Blocks: 2},
		{Kind: kindDeviceEmulated, Device: 9, Bytes: 1 << 20, Blocks: 1},
	})()
	body, _, code := get(t, srv.URL+"/debug/membridge/")
	require.Equal(t, 200, code)
	i := strings.Index(body, "<h2>Kept for reuse by the allocators</h2>")
	require.GreaterOrEqual(t, i, 0, "no section for cached memory in\n%s", body)
	section := body[i : i+strings.Index(body[i:], "</table>")]
	assert.Contains(t, section, `<tr><td>cached-test-host</td><td>host</td><td class="n">3.0 MiB</td><td class="n">48</td></tr>`)
	assert.Contains(t, section, `<tr><td>device-emulated</td><td>9</td><td class="n">3.0 MiB</td><td class="n">3</td></tr>`)
	var total, blocks int64
	for _, c := range tracker.CachedStats() {
		total += c.Bytes
		blocks += c.Blocks
	}
	assert.Contains(t, body, fmt.Sprintf("%s in %d blocks kept for reuse by the allocators (not live, not a leak).", sitereport.FormatBytes(total), blocks))
	// Not live: the kind that only caches has no row of live bytes.
	kinds := body[strings.Index(body, "<h2>By kind</h2>"):strings.Index(body, "<h2>By tag</h2>")]
	assert.NotContains(t, kinds, "cached-test-host", "cached memory counted as live")
}

// kindCachedTest is a kind only the test of cached memory caches.
var kindCachedTest = ledgertest.MustKind("cached-test-host")
