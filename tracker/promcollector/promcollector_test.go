package promcollector_test

import (
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/membridge/membridge/native"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/membridge/membridge/cache"
	"github.com/membridge/membridge/internal/childtest"
	"github.com/membridge/membridge/internal/testkit"
	"github.com/membridge/membridge/tracker"
	"github.com/membridge/membridge/tracker/internal/ledgertest"
	"github.com/membridge/membridge/tracker/leaktest"
	"github.com/membridge/membridge/tracker/promcollector"
)

func TestMain(m *testing.M) { leaktest.VerifyTestMain(m) }

// onlyLabel passes on the metrics of c that have no label name, or one of
// values: the ledger's counters run since the start of the process, and
// -count>1 runs a test again in it, so each run compares its own tags;
// allocators linked into the test (package native's) may cache memory of
// kinds of their own.
type onlyLabel struct {
	c      prometheus.Collector
	name   string
	values map[string]bool
}

func (o onlyLabel) Describe(ch chan<- *prometheus.Desc) { o.c.Describe(ch) }

func (o onlyLabel) Collect(ch chan<- prometheus.Metric) {
	all := make(chan prometheus.Metric)
	go func() {
		o.c.Collect(all)
		close(all)
	}()
	for m := range all {
		var d dto.Metric
		keep := m.Write(&d) == nil
		for _, l := range d.GetLabel() {
			if l.GetName() == o.name && !o.values[l.GetValue()] {
				keep = false
			}
		}
		if keep {
			ch <- m
		}
	}
}

func TestCollectorExportsTheLedger(t *testing.T) {
	defer leaktest.VerifyNone(t)
	frames, weights := testkit.UniqueTag(t, "frames"), testkit.UniqueTag(t, "weights")
	before := tracker.Pressure()
	a := ledgertest.Commit(t, native.KindCHeap, -1, frames, 100)
	b := ledgertest.Commit(t, native.KindCHeap, -1, frames, 50)
	w := ledgertest.Commit(t, kindDeviceEmulated, 0, weights, 4096)
	tracker.AllStats() // a scrape sees the peak: 150 bytes of frames
	b.Release()
	h := ledgertest.Commit(t, native.KindCHeap, -1, frames, 10)
	h.HandOff()
	tracker.SetTagLimit(frames, 120)
	if _, err := tracker.AllocateUnwatched(tracker.Request{Kind: native.KindCHeap, Device: -1, Tag: frames, Bytes: 30}, nil, nil); err == nil {
		t.Fatal("reservation over the tag limit succeeded")
	}
	// One allocation that succeeds on its retry, one that fails on it.
	calls := 0
	retried, err := tracker.AllocateUnwatched(tracker.Request{Kind: native.KindCHeap, Device: -1, Tag: frames + "-retried", Bytes: 1}, func() (uintptr, error) {
		calls++
		if calls == 1 {
			return 0, tracker.ErrOutOfMemory
		}
		return 0x1000, nil
	}, nil)
	require.NoError(t, err)
	retried.Release()
	_, err = tracker.AllocateUnwatched(tracker.Request{Kind: native.KindCHeap, Device: -1, Tag: frames + "-retried", Bytes: 1}, func() (uintptr, error) { return 0, tracker.ErrOutOfMemory }, nil)
	require.ErrorIs(t, err, tracker.ErrOutOfMemory)
	unregister := cache.Register("decoded", func() cache.Stats {
		return cache.Stats{Hits: 7, Misses: 3, Evictions: 2, Expirations: 1, Bytes: 4096, Entries: 4}
	})
	defer unregister()
	defer tracker.SetTagLimit(frames, 0)
	defer a.Release()
	defer w.Release()

	c := onlyLabel{promcollector.New(), "tag", map[string]bool{frames: true, weights: true}}
	want := strings.NewReplacer("frames", frames, "weights", weights).Replace(`
# HELP membridge_live_bytes Bytes of native or device memory live now (reserved or allocated, not yet freed).
# TYPE membridge_live_bytes gauge
membridge_live_bytes{device="0",kind="device-emulated",tag="weights"} 4096
membridge_live_bytes{device="host",kind="c-heap",tag="frames"} 100
# HELP membridge_peak_bytes Highest live bytes seen at a read of the ledger (a scrape) since the process started.
# TYPE membridge_peak_bytes gauge
membridge_peak_bytes{device="0",kind="device-emulated",tag="weights"} 4096
membridge_peak_bytes{device="host",kind="c-heap",tag="frames"} 150
# HELP membridge_allocations_total Allocations made since the process started.
# TYPE membridge_allocations_total counter
membridge_allocations_total{device="0",kind="device-emulated",tag="weights"} 1
membridge_allocations_total{device="host",kind="c-heap",tag="frames"} 3
# HELP membridge_handoffs_total Allocations whose ownership went to C code.
# TYPE membridge_handoffs_total counter
membridge_handoffs_total{device="0",kind="device-emulated",tag="weights"} 0
membridge_handoffs_total{device="host",kind="c-heap",tag="frames"} 1
# HELP membridge_tag_limit_bytes Cap on the live bytes of a tag (tracker.SetTagLimit); absent when none is set.
# TYPE membridge_tag_limit_bytes gauge
membridge_tag_limit_bytes{tag="frames"} 120
# HELP membridge_tag_limit_refusals_total Reservations refused because they would pass their tag's limit.
# TYPE membridge_tag_limit_refusals_total counter
membridge_tag_limit_refusals_total{tag="frames"} 1
membridge_tag_limit_refusals_total{tag="weights"} 0
# HELP membridge_oom_retries_total Allocations retried after an out-of-memory and a relief.
# TYPE membridge_oom_retries_total counter
membridge_oom_retries_total RETRIES
# HELP membridge_oom_retry_successes_total Retried allocations that then succeeded.
# TYPE membridge_oom_retry_successes_total counter
membridge_oom_retry_successes_total SUCCESSES
# HELP membridge_cache_hits_total Cache lookups that found their entry.
# TYPE membridge_cache_hits_total counter
membridge_cache_hits_total{cache="decoded"} 7
# HELP membridge_cache_evictions_total Entries removed to stay within the cache's bound or to relieve memory pressure.
# TYPE membridge_cache_evictions_total counter
membridge_cache_evictions_total{cache="decoded"} 2
# HELP membridge_cache_bytes Bytes the cache holds now.
# TYPE membridge_cache_bytes gauge
membridge_cache_bytes{cache="decoded"} 4096
`)
	want = strings.NewReplacer("RETRIES", fmt.Sprint(before.Retries+2), "SUCCESSES", fmt.Sprint(before.RetrySuccesses+1)).Replace(want)
	names := []string{"membridge_live_bytes", "membridge_peak_bytes", "membridge_allocations_total", "membridge_handoffs_total",
		"membridge_tag_limit_bytes", "membridge_tag_limit_refusals_total", "membridge_oom_retries_total",
		"membridge_oom_retry_successes_total", "membridge_cache_hits_total", "membridge_cache_evictions_total", "membridge_cache_bytes"}
	assert.NoError(t, testutil.CollectAndCompare(c, strings.NewReader(want), names...))
	problems, err := testutil.CollectAndLint(c)
	require.NoError(t, err)
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(c))
	if _, err := reg.Gather(); err != nil {
		t.Errorf("pedantic registry: %v", err)
	}
}

func TestBuildInfoSaysWhatMadeTheMetrics(t *testing.T) {
	defer tracker.SetStackRate(tracker.SetStackRate(0))
	c := promcollector.New(promcollector.WithBackend("cuda"))
	want := func(tracking string) string {
		return `
# HELP membridge_build_info Always 1: the labels say which membridge made the other metrics (version, backend, stack tracking mode, Go version).
# TYPE membridge_build_info gauge
membridge_build_info{backend="cuda",goversion="` + runtime.Version() + `",tracking="` + tracking + `",version="devel"} 1
`
	}
	require.NoError(t, testutil.CollectAndCompare(c, strings.NewReader(want("off")), "membridge_build_info"))
	// The mode is read at each scrape.
	tracker.SetStackRate(1)
	require.NoError(t, testutil.CollectAndCompare(c, strings.NewReader(want("all")), "membridge_build_info"))
	tracker.SetStackRate(64 << 10)
	require.NoError(t, testutil.CollectAndCompare(c, strings.NewReader(want("sampled")), "membridge_build_info"))
	// Without the option, the build tags say: go test ran without cuda.
	body, err := testutil.CollectAndFormat(promcollector.New(), expfmt.TypeTextPlain, "membridge_build_info")
	require.NoError(t, err)
	assert.Contains(t, string(body), `backend="host"`)
}

func ExampleWithBackend() {
	// A program that chose its backend at run time says which.
	reg := prometheus.NewRegistry()
	reg.MustRegister(promcollector.New(promcollector.WithBackend("cuda")))
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		if mf.GetName() == "membridge_build_info" {
			for _, l := range mf.GetMetric()[0].GetLabel() {
				if l.GetName() == "backend" {
					fmt.Println(l.GetValue())
				}
			}
		}
	}
	// Output: cuda
}

func ExampleNew() {
	prometheus.MustRegister(promcollector.New())
	// Then serve promhttp.Handler() at /metrics.
	// Output:
}

// A program that makes a tag per request cannot make the series unbounded:
// past the cap, a scrape has one more tag value, "(overflow)", whose series
// add up to what the lost tags hold, and membridge_tags_overflowed_total
// counts them. Tags no label could carry (invalid UTF-8, huge) go there
// too, so a scrape never fails on them. The test runs in a process of its
// own: the counts are the process's since its start.
func TestScrapeHasAtMostCapPlusOneTagValues(t *testing.T) {
	if !childtest.Alone(t) {
		return
	}
	defer leaktest.VerifyNone(t)
	const room, n = 10, 25
	defer tracker.SetMaxTags(tracker.SetMaxTags(tracker.TagsKept() + room))
	var want int64
	for i := range room + n {
		r := ledgertest.Commit(t, native.KindCHeap, -1, fmt.Sprintf("request-%d", i), int64(i+1))
		defer r.Release()
		want += int64(i + 1)
	}
	for _, tag := range []string{"\xff\xfe", strings.Repeat("x", 1<<16)} {
		r := ledgertest.Commit(t, native.KindCHeap, -1, tag, 1000)
		defer r.Release()
		want += 1000
	}

	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(promcollector.New()))
	mfs, err := reg.Gather()
	require.NoError(t, err)
	tags := map[string]bool{}
	var live float64
	values := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "tag" {
					tags[l.GetValue()] = true
				}
			}
			if mf.GetName() == "membridge_live_bytes" {
				live += m.GetGauge().GetValue()
			}
			if len(m.GetLabel()) == 0 {
				values[mf.GetName()] = m.GetGauge().GetValue() + m.GetCounter().GetValue()
			}
		}
	}
	assert.LessOrEqual(t, len(tags), tracker.MaxTags()+1)
	assert.Len(t, tags, tracker.TagsKept()+1, "every tag kept, and one more")
	assert.True(t, tags[tracker.OverflowTag])
	assert.Equal(t, float64(want), live, "the series add up to what is live")
	assert.Equal(t, float64(n+2), values["membridge_tags_overflowed_total"])
	assert.Equal(t, float64(tracker.MaxTags()), values["membridge_tags"])
	assert.Equal(t, float64(tracker.MaxTags()), values["membridge_tags_max"])
	problems, err := testutil.CollectAndLint(promcollector.New())
	require.NoError(t, err)
	assert.Empty(t, problems)
}

// kindDeviceEmulated stands for package cuda's host-backend kind, by its
// name, without linking cuda (and, under the cuda tag, a driver).
var kindDeviceEmulated = ledgertest.MustKind("device-emulated")

// allocatorCache reports fixed rows, as package native's magazines and
// package cuda's device cache report theirs.
type allocatorCache []tracker.Cached

func (c allocatorCache) Cached(dst []tracker.Cached) []tracker.Cached { return append(dst, c...) }
func (allocatorCache) Trim(tracker.Shortage) int64                    { return 0 }

// Memory the allocators keep for reuse is its own series, per kind and
// device, beside (not in) live bytes; two caches of one kind and device,
// and hostile devices, make one series, so a scrape never fails on them.
func TestCollectorExportsCachedBytesPerKindAndDevice(t *testing.T) {
	defer leaktest.VerifyNone(t)
	defer tracker.RegisterAllocatorCache("magazines", allocatorCache{
		{Kind: kindCached, Device: -1, Bytes: 4096, Blocks: 4},
		{Kind: kindCached, Device: -7, Bytes: 1024, Blocks: 1}, // host too
		{Kind: kindCachedDevice, Device: 1, Bytes: 2048, Blocks: 1},
	})()
	defer tracker.RegisterAllocatorCache("device cache", allocatorCache{
		{Kind: kindCachedDevice, Device: 1, Bytes: 1 << 20, Blocks: 2},
		{Kind: kindCachedDevice, Device: 0, Bytes: 0, Blocks: 0}, // nothing: no series
	})()

	c := onlyLabel{promcollector.New(), "kind", map[string]bool{kindCached.String(): true, kindCachedDevice.String(): true}}
	want := `
# HELP membridge_cached_bytes Bytes the allocators keep for reuse (freed by the program, not given back; tracker.CachedStats): not live, not counted by limits, never a leak.
# TYPE membridge_cached_bytes gauge
membridge_cached_bytes{device="host",kind="cached-test"} 5120
membridge_cached_bytes{device="1",kind="cached-test-device"} 1.050624e+06
# HELP membridge_cached_blocks Blocks the allocators keep for reuse, holding membridge_cached_bytes.
# TYPE membridge_cached_blocks gauge
membridge_cached_blocks{device="host",kind="cached-test"} 5
membridge_cached_blocks{device="1",kind="cached-test-device"} 3
`
	assert.NoError(t, testutil.CollectAndCompare(c, strings.NewReader(want), "membridge_cached_bytes", "membridge_cached_blocks", "membridge_live_bytes"))
	problems, err := testutil.CollectAndLint(promcollector.New())
	require.NoError(t, err)
	assert.Empty(t, problems)
	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(promcollector.New()))
	_, err = reg.Gather()
	assert.NoError(t, err, "pedantic registry")
}

// Kinds only these tests cache.
var (
	kindCached       = ledgertest.MustKind("cached-test")
	kindCachedDevice = ledgertest.MustKind("cached-test-device")
)
