// Package promcollector exports membridge's ledger to Prometheus. It is the
// only membridge package that imports client_golang: programs that do not
// import it carry none of it.
//
//	prometheus.MustRegister(promcollector.New())
//
// Every metric is read from the ledger when Prometheus scrapes; nothing is
// counted twice and the allocation path does no extra work. Labels: kind
// (c-heap, device, ...), device ("host" or the device ordinal), tag (what
// the memory is for), cache (a cache's name).
//
// The tag label takes at most tracker.MaxTags values (1,000 by default),
// and "(overflow)" (tracker.OverflowTag) for the memory of every other tag:
// a program that makes tags from data cannot make the series unbounded.
// membridge_tags is how many tags the ledger keeps, membridge_tags_max the
// cap (0: none), and membridge_tags_overflowed_total how many tags were
// counted under "(overflow)"; alert on its increase.
//
// membridge_cached_bytes and membridge_cached_blocks (labels kind and
// device) are what the allocators keep for reuse (tracker.CachedStats):
// memory the program freed that an allocator's cache holds instead of
// giving it back. It is neither live (membridge_live_bytes) nor a leak;
// the ledger trims it first when an allocator runs out of memory. The
// user caches of package cache are membridge_cache_* (label cache).
//
// membridge_build_info is 1, with what the numbers come from as labels:
// version (membridge's module version, "devel" for a build from a working
// tree), backend ("host", or "cuda" for a build with the cuda tag),
// tracking (the stack mode: "off", "sampled" or "all", see
// tracker.SetStackRate) and goversion.
package promcollector

import (
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/membridge/membridge/cache"
	"github.com/membridge/membridge/tracker"
)

const namespace = "membridge"

// A Collector is a prometheus.Collector for the ledger's counters.
type Collector struct {
	buildInfo   *prometheus.Desc
	version     string
	backend     string
	perKey      []keyMetric
	kindLimit   *prometheus.Desc
	kindRefused *prometheus.Desc
	tagLimit    *prometheus.Desc
	tagRefused  *prometheus.Desc
	tags        *prometheus.Desc
	tagsMax     *prometheus.Desc
	tagsOver    *prometheus.Desc
	pressure    []pressureMetric
	caches      []cacheMetric
	cachedBytes *prometheus.Desc
	cachedBlks  *prometheus.Desc
}

type keyMetric struct {
	desc  *prometheus.Desc
	typ   prometheus.ValueType
	value func(tracker.Stats) int64
}

type pressureMetric struct {
	desc  *prometheus.Desc
	value func(tracker.PressureStats) int64
}

type cacheMetric struct {
	desc  *prometheus.Desc
	typ   prometheus.ValueType
	value func(cache.Stats) int64
}

// An Option configures a Collector.
type Option interface{ apply(*Collector) }

type optionFunc func(*Collector)

func (f optionFunc) apply(c *Collector) { f(c) }

// WithBackend sets membridge_build_info's backend label, for a program that
// knows better than the build tags which backend its device memory is on.
func WithBackend(name string) Option {
	return optionFunc(func(c *Collector) { c.backend = name })
}

// modulePath is membridge's module, whose version build_info reports.
const modulePath = "github.com/membridge/membridge"

// moduleVersion returns membridge's version in a program's build info:
// the main module's or the dependency's (its replacement's when replaced),
// "devel" when the go command did not stamp one.
func moduleVersion(bi *debug.BuildInfo, ok bool) string {
	if !ok || bi == nil {
		return "devel"
	}
	m := &bi.Main
	if m.Path != modulePath {
		i := slices.IndexFunc(bi.Deps, func(d *debug.Module) bool { return d.Path == modulePath })
		if i < 0 {
			return "devel"
		}
		m = bi.Deps[i]
		if m.Replace != nil {
			m = m.Replace
		}
	}
	if m.Version == "" || m.Version == "(devel)" {
		return "devel"
	}
	return m.Version
}

// buildBackend returns "cuda" for a build with the cuda tag, the tag that
// selects package cuda's driver backend, and "host" otherwise.
func buildBackend(bi *debug.BuildInfo, ok bool) string {
	if ok && bi != nil {
		for _, s := range bi.Settings {
			if s.Key == "-tags" && slices.Contains(strings.Split(s.Value, ","), "cuda") {
				return "cuda"
			}
		}
	}
	return "host"
}

// trackingMode names a stack rate as MEMBRIDGE_TRACK does.
func trackingMode(rate int64) string {
	switch rate {
	case 0:
		return "off"
	case 1:
		return "all"
	}
	return "sampled"
}

// New returns a collector of the ledger's counters.
func New(opts ...Option) *Collector {
	keyLabels := []string{"kind", "device", "tag"}
	key := func(name, help string, typ prometheus.ValueType, v func(tracker.Stats) int64) keyMetric {
		return keyMetric{prometheus.NewDesc(prometheus.BuildFQName(namespace, "", name), help, keyLabels, nil), typ, v}
	}
	press := func(name, help string, v func(tracker.PressureStats) int64) pressureMetric {
		return pressureMetric{prometheus.NewDesc(prometheus.BuildFQName(namespace, "", name), help, nil, nil), v}
	}
	cacheMetricOf := func(name, help string, typ prometheus.ValueType, v func(cache.Stats) int64) cacheMetric {
		return cacheMetric{prometheus.NewDesc(prometheus.BuildFQName(namespace, "cache", name), help, []string{"cache"}, nil), typ, v}
	}
	G, C := prometheus.GaugeValue, prometheus.CounterValue
	bi, ok := debug.ReadBuildInfo()
	c := &Collector{
		buildInfo: prometheus.NewDesc(namespace+"_build_info",
			"Always 1: the labels say which membridge made the other metrics (version, backend, stack tracking mode, Go version).",
			[]string{"version", "backend", "tracking", "goversion"}, nil),
		version: moduleVersion(bi, ok),
		backend: buildBackend(bi, ok),
		perKey: []keyMetric{
			key("live_bytes", "Bytes of native or device memory live now (reserved or allocated, not yet freed).", G, func(s tracker.Stats) int64 { return s.LiveBytes }),
			key("live_objects", "Allocations live now.", G, func(s tracker.Stats) int64 { return s.LiveCount }),
			key("peak_bytes", "Highest live bytes seen at a read of the ledger (a scrape) since the process started.", G, func(s tracker.Stats) int64 { return s.PeakBytes }),
			key("allocations_total", "Allocations made since the process started.", C, func(s tracker.Stats) int64 { return s.AllocatedCount }),
			key("allocated_bytes_total", "Bytes allocated since the process started.", C, func(s tracker.Stats) int64 { return s.AllocatedBytes }),
			key("frees_total", "Allocations that ended: freed by their owner, reclaimed by the safety net or handed to C.", C, func(s tracker.Stats) int64 { return s.FreedCount }),
			key("freed_bytes_total", "Bytes of the allocations that ended.", C, func(s tracker.Stats) int64 { return s.FreedBytes }),
			key("dropped_handles_total", "Handles the program dropped without freeing them (leaks the safety net found).", C, func(s tracker.Stats) int64 { return s.DroppedCount }),
			key("dropped_bytes_total", "Bytes of the handles dropped without a free.", C, func(s tracker.Stats) int64 { return s.DroppedBytes }),
			key("handoffs_total", "Allocations whose ownership went to C code.", C, func(s tracker.Stats) int64 { return s.HandedOffCount }),
			key("handed_off_bytes_total", "Bytes whose ownership went to C code.", C, func(s tracker.Stats) int64 { return s.HandedOffBytes }),
		},
		kindLimit:   prometheus.NewDesc(namespace+"_kind_limit_bytes", "Cap on the live bytes of a kind of memory (tracker.SetLimit); absent when none is set.", []string{"kind"}, nil),
		kindRefused: prometheus.NewDesc(namespace+"_kind_limit_refusals_total", "Reservations refused because they would pass their kind's limit.", []string{"kind"}, nil),
		tagLimit:    prometheus.NewDesc(namespace+"_tag_limit_bytes", "Cap on the live bytes of a tag (tracker.SetTagLimit); absent when none is set.", []string{"tag"}, nil),
		tagRefused:  prometheus.NewDesc(namespace+"_tag_limit_refusals_total", "Reservations refused because they would pass their tag's limit.", []string{"tag"}, nil),
		tags:        prometheus.NewDesc(namespace+"_tags", "Tags the ledger keeps counters for, \"(overflow)\" aside (tracker.TagsKept).", nil, nil),
		tagsMax:     prometheus.NewDesc(namespace+"_tags_max", "Cap on the tags the ledger keeps (tracker.MaxTags); 0: none.", nil, nil),
		tagsOver:    prometheus.NewDesc(namespace+"_tags_overflowed_total", "Tags counted under \"(overflow)\" instead of their own: past the cap, not valid UTF-8, or too long (tracker.TagsOverflowed).", nil, nil),
		pressure: []pressureMetric{
			press("limit_waits_total", "Reservations that waited for a limit to make room.", func(p tracker.PressureStats) int64 { return p.LimitWaits }),
			press("limit_wait_timeouts_total", "Reservations whose wait for a limit ended with their context.", func(p tracker.PressureStats) int64 { return p.LimitWaitTimeouts }),
			press("reliefs_total", "Times membridge asked caches and the garbage collector for memory back.", func(p tracker.PressureStats) int64 { return p.Reliefs }),
			press("relief_bytes_total", "Bytes the registered reliefs said they freed.", func(p tracker.PressureStats) int64 { return p.ReliefBytes }),
			press("relief_gc_runs_total", "Garbage collections run to find dropped handles under pressure.", func(p tracker.PressureStats) int64 { return p.GCRuns }),
			press("oom_retries_total", "Allocations retried after an out-of-memory and a relief.", func(p tracker.PressureStats) int64 { return p.Retries }),
			press("oom_retry_successes_total", "Retried allocations that then succeeded.", func(p tracker.PressureStats) int64 { return p.RetrySuccesses }),
		},
		cachedBytes: prometheus.NewDesc(namespace+"_cached_bytes", "Bytes the allocators keep for reuse (freed by the program, not given back; tracker.CachedStats): not live, not counted by limits, never a leak.", []string{"kind", "device"}, nil),
		cachedBlks:  prometheus.NewDesc(namespace+"_cached_blocks", "Blocks the allocators keep for reuse, holding membridge_cached_bytes.", []string{"kind", "device"}, nil),
		caches: []cacheMetric{
			cacheMetricOf("hits_total", "Cache lookups that found their entry.", C, func(c cache.Stats) int64 { return c.Hits }),
			cacheMetricOf("misses_total", "Cache lookups that did not.", C, func(c cache.Stats) int64 { return c.Misses }),
			cacheMetricOf("evictions_total", "Entries removed to stay within the cache's bound or to relieve memory pressure.", C, func(c cache.Stats) int64 { return c.Evictions }),
			cacheMetricOf("expirations_total", "Entries removed because their time to live ran out.", C, func(c cache.Stats) int64 { return c.Expirations }),
			cacheMetricOf("bytes", "Bytes the cache holds now.", G, func(c cache.Stats) int64 { return c.Bytes }),
			cacheMetricOf("entries", "Entries the cache holds now.", G, func(c cache.Stats) int64 { return c.Entries }),
		},
	}
	for _, o := range opts {
		o.apply(c)
	}
	return c
}

// Describe sends the descriptions of every metric the collector exports.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.buildInfo
	for _, m := range c.perKey {
		ch <- m.desc
	}
	ch <- c.kindLimit
	ch <- c.kindRefused
	ch <- c.tagLimit
	ch <- c.tagRefused
	ch <- c.tags
	ch <- c.tagsMax
	ch <- c.tagsOver
	for _, m := range c.pressure {
		ch <- m.desc
	}
	for _, m := range c.caches {
		ch <- m.desc
	}
	ch <- c.cachedBytes
	ch <- c.cachedBlks
}

func deviceLabel(d int) string {
	if d < 0 {
		return "host"
	}
	return strconv.Itoa(d)
}

// Collect reads the ledger and sends one sample per metric and label set.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(c.buildInfo, prometheus.GaugeValue, 1,
		c.version, c.backend, trackingMode(tracker.StackRate()), runtime.Version())
	tags := map[string]bool{}
	kinds := map[tracker.Kind]bool{}
	for _, s := range tracker.AllStats() {
		labels := []string{s.Kind.String(), deviceLabel(s.Device), s.Tag}
		for _, m := range c.perKey {
			ch <- prometheus.MustNewConstMetric(m.desc, m.typ, float64(m.value(s)), labels...)
		}
		tags[s.Tag] = true
		kinds[s.Kind] = true
	}
	for _, k := range tracker.Kinds() {
		ks := tracker.KindStats(k)
		if !kinds[k] && ks.LimitHits == 0 && tracker.Limit(k) == 0 {
			continue
		}
		if l := tracker.Limit(k); l > 0 {
			ch <- prometheus.MustNewConstMetric(c.kindLimit, prometheus.GaugeValue, float64(l), k.String())
		}
		ch <- prometheus.MustNewConstMetric(c.kindRefused, prometheus.CounterValue, float64(ks.LimitHits), k.String())
	}
	for tag := range tags {
		if l := tracker.TagLimit(tag); l > 0 {
			ch <- prometheus.MustNewConstMetric(c.tagLimit, prometheus.GaugeValue, float64(l), tag)
		}
		ch <- prometheus.MustNewConstMetric(c.tagRefused, prometheus.CounterValue, float64(tracker.TagStats(tag).LimitHits), tag)
	}
	ch <- prometheus.MustNewConstMetric(c.tags, prometheus.GaugeValue, float64(tracker.TagsKept()))
	ch <- prometheus.MustNewConstMetric(c.tagsMax, prometheus.GaugeValue, float64(tracker.MaxTags()))
	ch <- prometheus.MustNewConstMetric(c.tagsOver, prometheus.CounterValue, float64(tracker.TagsOverflowed()))
	p := tracker.Pressure()
	for _, m := range c.pressure {
		ch <- prometheus.MustNewConstMetric(m.desc, prometheus.CounterValue, float64(m.value(p)))
	}
	// Two caches registered under one name would make duplicate series;
	// Caches is sorted by name, so their figures are summed.
	var merged []cache.Stats
	for _, cs := range cache.All() {
		if n := len(merged); n > 0 && merged[n-1].Name == cs.Name {
			m := &merged[n-1]
			m.Hits += cs.Hits
			m.Misses += cs.Misses
			m.Evictions += cs.Evictions
			m.Expirations += cs.Expirations
			m.Bytes += cs.Bytes
			m.Entries += cs.Entries
			continue
		}
		merged = append(merged, cs)
	}
	for _, cs := range merged {
		for _, m := range c.caches {
			ch <- prometheus.MustNewConstMetric(m.desc, m.typ, float64(m.value(cs)), cs.Name)
		}
	}
	// One row per kind and device, host memory on one row per kind:
	// CachedStats sums the allocators' caches, so no series repeats.
	for _, cs := range tracker.CachedStats() {
		labels := []string{cs.Kind.String(), deviceLabel(cs.Device)}
		ch <- prometheus.MustNewConstMetric(c.cachedBytes, prometheus.GaugeValue, float64(cs.Bytes), labels...)
		ch <- prometheus.MustNewConstMetric(c.cachedBlks, prometheus.GaugeValue, float64(cs.Blocks), labels...)
	}
}
