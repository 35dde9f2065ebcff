package main

import (
	"bufio"
	"context"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/membridge/membridge/internal/testkit"
	"github.com/membridge/membridge/tracker"
	"github.com/membridge/membridge/tracker/leaktest"
	"github.com/stretchr/testify/require"
)

// The soak tests run for minutes, so they run only when asked:
//
//	MEMBRIDGE_SOAK=3m go test -run Soak -v ./examples/service    (make soak)
//
// TestSoak checks, under a load that keeps both cores busy, that the
// ledger's live bytes stay flat after warm-up and RSS within 10% (judged
// by their trend, see checkSoak), that no handle is dropped without a
// free, that every answer is right, and (in startTest's cleanup) that
// shutdown leaves nothing live.
func TestSoak(t *testing.T) {
	d := soakDuration(t)
	url, debugURL := startWithDebug(t, defaultConfig())
	warm := d / 3 // the Go heap (the load generator's too: it runs in this process) takes a while to settle
	var samples []soakSample
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan loadStats)
	go func() {
		done <- load{URL: url, Clients: 2 * runtime.GOMAXPROCS(0), Duration: d, MinBatch: 256, MaxBatch: 16384, Repeat: 0.1, JSONShare: 0.25}.run(ctx)
	}()
	start := time.Now()
	for tick := time.NewTicker(time.Second); ; {
		select {
		case st := <-done:
			cancel()
			tick.Stop()
			t.Logf("%d requests, %d ok, %d busy, %d failed, %d wrong, %.0f req/s", st.Requests, st.OK, st.Busy, st.Failed, st.Bad, float64(st.Requests)/st.Elapsed.Seconds())
			if st.Failed > 0 || st.Bad > 0 {
				t.Errorf("%d failed requests, %d wrong answers", st.Failed, st.Bad)
			}
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			t.Logf("Go heap at the end: %.1f MiB in use, %.1f MiB obtained from the OS", float64(ms.HeapInuse)/(1<<20), float64(ms.HeapSys-ms.HeapReleased)/(1<<20))
			checkSoak(t, warm, samples)
			return
		case <-tick.C:
			m := scrape(t, debugURL)
			samples = append(samples, soakSample{time.Since(start), m["membridge_live_bytes"], m["membridge_dropped_handles_total"], rss()})
		}
	}
}

// soakSample is what TestSoak reads each second.
type soakSample struct {
	at            time.Duration
	live, dropped float64
	rss           int64
}

// checkSoak judges the samples after warm-up by their trend, not by one
// peak, so a machine busy with other work (a collection that runs late, a
// burst of another program's load) does not fail it: the medians of the
// first and the second half after warm-up must stay within 10% (live
// bytes: plus one large request's worth), and no handle may be dropped.
// It logs every figure it judged.
func checkSoak(t *testing.T, warm time.Duration, ss []soakSample) {
	var after []soakSample
	for _, s := range ss {
		if s.at > warm {
			after = append(after, s)
		}
		if s.dropped > 0 {
			t.Errorf("%s: %.0f handles dropped without a free", s.at, s.dropped)
			return
		}
	}
	if len(after) < 4 {
		t.Fatalf("%d samples after the warm-up of %s: too few to judge a trend", len(after), warm)
	}
	first, second := after[:len(after)/2], after[len(after)/2:]
	live := func(s soakSample) float64 { return s.live }
	rss := func(s soakSample) float64 { return float64(s.rss) }
	live0, live1 := median(first, live), median(second, live)
	rss0, rss1 := median(first, rss), median(second, rss)
	t.Logf("after the %s warm-up, %d samples: live bytes median %.1f MiB then %.1f MiB (slope %+.2f MiB/min, max %.1f MiB); RSS median %.1f MiB then %.1f MiB (%+.1f%%, slope %+.2f MiB/min, max %.1f MiB)",
		warm.Round(time.Second), len(after), live0/(1<<20), live1/(1<<20), slope(after, live)/(1<<20), maxOf(after, live)/(1<<20),
		rss0/(1<<20), rss1/(1<<20), 100*(rss1/rss0-1), slope(after, rss)/(1<<20), maxOf(after, rss)/(1<<20))
	// The live bytes are bounded by the budget and the cache; "flat" means
	// no climb beyond one large request's worth.
	if live1 > live0*1.1+16<<20 {
		t.Errorf("live bytes climbed after warm-up: median %.0f -> %.0f", live0, live1)
	}
	if rss1 > rss0*1.10 {
		t.Errorf("RSS grew more than 10%% after warm-up: median %.0f -> %.0f", rss0, rss1)
	}
}

func median(ss []soakSample, f func(soakSample) float64) float64 {
	vs := make([]float64, len(ss))
	for i, s := range ss {
		vs[i] = f(s)
	}
	slices.Sort(vs)
	return vs[len(vs)/2]
}

func maxOf(ss []soakSample, f func(soakSample) float64) float64 {
	m := 0.0
	for _, s := range ss {
		m = max(m, f(s))
	}
	return m
}

// slope is the least-squares trend of f over the samples, per minute.
func slope(ss []soakSample, f func(soakSample) float64) float64 {
	var n, sx, sy, sxx, sxy float64
	for _, s := range ss {
		x, y := s.at.Minutes(), f(s)
		n, sx, sy, sxx, sxy = n+1, sx+x, sy+y, sxx+x*x, sxy+x*y
	}
	if d := n*sxx - sx*sx; d != 0 {
		return (n*sxy - sx*sy) / d
	}
	return 0
}

// TestLeakyVariantIsCaughtByMetrics runs the deliberately leaky handler
// (it drops each request's arena) and watches the service's own /metrics:
// the dropped-handle counter must show the leak within a minute.
func TestLeakyVariantIsCaughtByMetrics(t *testing.T) {
	soakDuration(t)
	cfg := defaultConfig()
	cfg.Leaky = true
	url, debugURL := startLeaky(t, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go load{URL: url, Clients: 2, Duration: time.Minute, MinBatch: 256, MaxBatch: 4096, JSONShare: 0}.run(ctx)
	start := time.Now()
	for time.Since(start) < time.Minute {
		time.Sleep(time.Second)
		m := scrape(t, debugURL)
		if n := m[`membridge_dropped_handles_total{kind="arena-chunk",tag="service.request"}`]; n > 0 {
			t.Logf("caught after %s: %.0f arena chunks dropped without Free", time.Since(start).Round(time.Second), n)
			return
		}
	}
	t.Fatal("the leak did not show in /metrics within a minute")
}

// startLeaky serves the leaky variant; on cleanup it lets the safety net
// reclaim every dropped arena and takes the reports out of the test mode's
// books, since the leak is the point of the test.
func startLeaky(t *testing.T, cfg config) (url, debugURL string) {
	url, debugURL = startWithDebug(t, cfg)
	t.Cleanup(func() { // runs before startTest's shutdown check
		testkit.Until(func() bool { return tracker.TagStats(tagRequest).LiveCount == 0 }, tracker.GC)
		leaktest.Find(leaktest.MaxWait(0)) // reports, and so forgets, the planted leaks
	})
	return url, debugURL
}

func soakDuration(t *testing.T) time.Duration {
	v := os.Getenv("MEMBRIDGE_SOAK")
	if v == "" {
		t.Skip("set MEMBRIDGE_SOAK=<duration> (make soak) to run the load tests")
	}
	d, err := time.ParseDuration(v)
	require.NoError(t, err, "MEMBRIDGE_SOAK=%q", v)
	return d
}

// scrape reads /metrics and sums each metric over its labels; it also keeps
// each labelled series under its full name, labels sorted as exposed.
func scrape(t *testing.T, url string) map[string]float64 {
	resp, err := http.Get(url + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			continue
		}
		series := line[:i]
		out[dropLabel(series, "device")] += v
		if j := strings.IndexByte(series, '{'); j >= 0 {
			out[series[:j]] += v
		}
	}
	return out
}

// dropLabel removes one label from a series name, so series can be looked
// up without it.
func dropLabel(series, label string) string {
	i := strings.Index(series, label+`="`)
	if i < 0 {
		return series
	}
	j := strings.IndexByte(series[i+len(label)+2:], '"')
	rest := series[i+len(label)+2+j+1:]
	rest = strings.TrimPrefix(rest, ",")
	return strings.Replace(series[:i]+rest, ",}", "}", 1)
}
