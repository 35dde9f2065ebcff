package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/membridge/membridge/cext"
	"github.com/membridge/membridge/native"

	"github.com/membridge/membridge/cuda"
	"github.com/membridge/membridge/tracker"
)

// runDemo is `make demo`: the service on a loopback port, a realistic load
// for the given time with a progress line, then throughput, latency
// percentiles and peak native and device bytes, shutdown, and the proof
// that every byte came back.
func runDemo(cfg config, log *slog.Logger, d time.Duration, clients int) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv, err := start(cfg, log, ln, nil)
	if err != nil {
		return err
	}
	fmt.Printf("membridge service on http://%s (%s backend, %s); %d clients for %s\n",
		ln.Addr(), cuda.Backend, runtime.Version(), clients, d)
	peak := newPeakWatch()
	l := load{
		URL: "http://" + ln.Addr().String(), Clients: clients, Duration: d,
		MinBatch: 256, MaxBatch: 16384, Repeat: 0.1, JSONShare: 0.25,
		Progress: func(st loadStats) {
			peak.sample()
			fmt.Printf("\r%4.0fs  %7d requests  %6.0f req/s  p50 %-8s p99 %-8s native %-9s device %-9s",
				st.Elapsed.Seconds(), st.Requests, float64(st.Requests)/st.Elapsed.Seconds(),
				round(percentile(st.Latencies, 0.5)), round(percentile(st.Latencies, 0.99)),
				mib(hostLive()), mib(deviceLive()))
		},
	}
	st := l.run(context.Background())
	peak.sample()
	fmt.Println()
	fmt.Printf("\n%d requests in %s: %.0f req/s, %.1f M records/s\n", st.Requests, st.Elapsed.Round(time.Millisecond),
		float64(st.Requests)/st.Elapsed.Seconds(), float64(st.RecordsProcessed)/st.Elapsed.Seconds()/1e6)
	fmt.Printf("  ok %d (cache hits %d), busy (503) %d, failed %d, wrong answers %d\n", st.OK, st.CacheHits, st.Busy, st.Failed, st.Bad)
	fmt.Printf("  latency p50 %s  p90 %s  p99 %s  max %s\n", round(percentile(st.Latencies, 0.5)),
		round(percentile(st.Latencies, 0.9)), round(percentile(st.Latencies, 0.99)), round(percentile(st.Latencies, 1)))
	fmt.Printf("  memory by kind, the ledger's peak and what is live at the end of the load:\n")
	for _, k := range append(hostKinds, deviceKinds...) {
		if ks := tracker.KindStats(k); ks.AllocatedCount > 0 {
			fmt.Printf("    %-16s peak %9s  live %9s  (%d allocations)\n", k, mib(ks.PeakBytes), mib(ks.LiveBytes), ks.AllocatedCount)
		}
	}
	fmt.Printf("  request budget %s (host), %s (device); the live memory at the end is the result cache and the pinned staging buffers\n",
		mib(cfg.Budget), mib(cfg.DeviceBudget))
	fmt.Printf("  process RSS: peak %s (sampled each second)\n", mib(peak.rss))

	if err := srv.shutdown(log); err != nil {
		return err
	}
	var left []string
	for _, k := range tracker.Kinds() {
		if ks := tracker.KindStats(k); ks.AllocatedCount > 0 {
			left = append(left, fmt.Sprintf("%s %d/%d freed", k, ks.FreedCount+ks.HandedOffCount, ks.AllocatedCount))
		}
	}
	fmt.Printf("\nafter shutdown: %d bytes live in the ledger (%s)\n", tracker.LiveBytes(), strings.Join(left, ", "))
	if st.Failed > 0 || st.Bad > 0 {
		return fmt.Errorf("demo: %d failed requests, %d wrong answers", st.Failed, st.Bad)
	}
	return nil
}

// peakWatch keeps the highest RSS it sampled (the ledger keeps its own peaks).
type peakWatch struct{ rss int64 }

func newPeakWatch() *peakWatch { return &peakWatch{} }

func (p *peakWatch) sample() { p.rss = max(p.rss, rss()) }

var (
	hostKinds   = []tracker.Kind{native.KindCHeap, native.KindArenaChunk, native.KindAdopted, cext.KindCExtension, cuda.KindPinned}
	deviceKinds = []tracker.Kind{cuda.KindDevice, cuda.KindDevicePool, cuda.KindDeviceEmulated}
)

func hostLive() int64 { return liveOf(hostKinds) }

func deviceLive() int64 { return liveOf(deviceKinds) }

func liveOf(kinds []tracker.Kind) int64 {
	var n int64
	for _, k := range kinds {
		n += tracker.KindStats(k).LiveBytes
	}
	return n
}

// rss reads the resident set size from /proc (Linux).
func rss() int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	var size, res int64
	fmt.Sscan(string(b), &size, &res)
	return res * int64(os.Getpagesize())
}

func mib(n int64) string { return fmt.Sprintf("%.1fMiB", float64(n)/(1<<20)) }

func round(d time.Duration) time.Duration {
	switch {
	case d > time.Second:
		return d.Round(10 * time.Millisecond)
	case d > time.Millisecond:
		return d.Round(10 * time.Microsecond)
	}
	return d.Round(time.Microsecond)
}
