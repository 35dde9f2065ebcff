package monitoring_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/membridge/membridge/cache"
	"github.com/membridge/membridge/internal/testkit"
	"github.com/membridge/membridge/native"
	"github.com/membridge/membridge/tracker"
	"github.com/membridge/membridge/tracker/leaktest"
	"github.com/membridge/membridge/tracker/promcollector"
)

func TestMain(m *testing.M) { leaktest.VerifyTestMain(m) }

// exported returns the names and labels of the metrics the collector
// exports once the ledger has seen allocations, limits, a cache and an
// allocator's cache: some metrics are absent until there is something to
// say (a limit, a cache, memory kept for reuse).
func exported(t *testing.T) (names map[string]bool, labels map[string]bool) {
	t.Helper()
	tag := testkit.UniqueTag(t, "monitoring")
	var bufs []*native.Buffer
	for _, n := range []int{64, 4096, 1 << 20} {
		b, err := native.Alloc(tag, n)
		require.NoError(t, err)
		bufs = append(bufs, b)
	}
	defer func() {
		for _, b := range bufs {
			require.NoError(t, b.Free())
		}
	}()
	defer tracker.SetLimit(native.KindCHeap, tracker.Limit(native.KindCHeap))
	tracker.SetLimit(native.KindCHeap, 1<<40)
	tracker.SetTagLimit(tag, 1<<30)
	defer tracker.SetTagLimit(tag, 0)
	defer cache.Register(tag, func() cache.Stats { return cache.Stats{Hits: 1, Bytes: 64, Entries: 1} })()
	defer tracker.RegisterAllocatorCache(tag, keptBlocks{{Kind: native.KindCHeap, Device: -1, Bytes: 4096, Blocks: 1}})()

	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(promcollector.New()))
	mfs, err := reg.Gather()
	require.NoError(t, err)
	// Prometheus adds these to every series it scrapes.
	names, labels = map[string]bool{}, map[string]bool{"job": true, "instance": true}
	for _, mf := range mfs {
		names[mf.GetName()] = true
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = true
			}
		}
	}
	return names, labels
}

// keptBlocks is an allocator cache holding fixed blocks, so that the
// cached-memory metrics are exported.
type keptBlocks []tracker.Cached

func (k keptBlocks) Cached(dst []tracker.Cached) []tracker.Cached { return append(dst, k...) }
func (keptBlocks) Trim(tracker.Shortage) int64                    { return 0 }

// dashboardQueries returns every PromQL query of the dashboard: the panels'
// targets and the template variables'.
func dashboardQueries(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile("grafana-dashboard.json")
	require.NoError(t, err)
	var dash any
	require.NoError(t, json.Unmarshal(data, &dash), "grafana-dashboard.json is not JSON")
	var out []string
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if s, ok := x.(string); ok && (k == "expr" || k == "definition") {
					out = append(out, s)
				}
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(dash)
	require.NotEmpty(t, out, "the dashboard has no queries")
	return out
}

// ruleExprs returns the expressions of alerts.yml (its "expr:" values,
// folded block scalars included).
func ruleExprs(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile("alerts.yml")
	require.NoError(t, err)
	var out []string
	lines := strings.Split(string(data), "\n")
	for i := 0; i < len(lines); i++ {
		rest, ok := strings.CutPrefix(strings.TrimSpace(lines[i]), "expr:")
		if !ok {
			continue
		}
		rest = strings.TrimSpace(rest)
		if rest == "|" || rest == ">" {
			indent := len(lines[i]) - len(strings.TrimLeft(lines[i], " "))
			rest = ""
			for i+1 < len(lines) && (strings.TrimSpace(lines[i+1]) == "" || len(lines[i+1])-len(strings.TrimLeft(lines[i+1], " ")) > indent) {
				i++
				rest += lines[i] + "\n"
			}
		}
		out = append(out, rest)
	}
	require.NotEmpty(t, out, "alerts.yml has no rules")
	return out
}

var (
	metricName = regexp.MustCompile(`\bmembridge_[a-z0-9_]+`)
	grouping   = regexp.MustCompile(`\b(?:by|on|without|ignoring|group_left|group_right)\s*\(([^)]*)\)`)
	matcher    = regexp.MustCompile(`[{,]\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)`)
)

func TestDashboardAndAlertsUseExportedMetrics(t *testing.T) {
	defer leaktest.VerifyNone(t)
	names, labels := exported(t)
	for file, exprs := range map[string][]string{"grafana-dashboard.json": dashboardQueries(t), "alerts.yml": ruleExprs(t)} {
		for _, e := range exprs {
			used := metricName.FindAllString(e, -1)
			assert.NotEmpty(t, used, "%s: query %q reads no membridge metric", file, e)
			for _, n := range used {
				assert.True(t, names[n], "%s uses %s, which promcollector does not export (query %q)", file, n, e)
			}
			var ls []string
			for _, g := range grouping.FindAllStringSubmatch(e, -1) {
				for _, l := range strings.Split(g[1], ",") {
					if l = strings.TrimSpace(l); l != "" {
						ls = append(ls, l)
					}
				}
			}
			for _, g := range matcher.FindAllStringSubmatch(e, -1) {
				ls = append(ls, g[1])
			}
			for _, l := range ls {
				assert.True(t, labels[l], "%s groups or matches on label %q, which no exported metric has (query %q)", file, l, e)
			}
		}
	}
}

// The dashboard's queries are PromQL that Prometheus accepts: promtool
// checks them as recording rules, with Grafana's variables filled in. CI
// sets MEMBRIDGE_REQUIRE_PROMTOOL=1 where it installed promtool.
func TestDashboardQueriesParse(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("MEMBRIDGE_REQUIRE_PROMTOOL") == "1" {
			t.Fatal("MEMBRIDGE_REQUIRE_PROMTOOL=1 but there is no promtool (apt-get install prometheus)")
		}
		t.Skip("no promtool on PATH (Debian's prometheus package; MEMBRIDGE_REQUIRE_PROMTOOL=1 makes it required)")
	}
	fill := strings.NewReplacer("$__rate_interval", "5m", "$job", ".*", "$instance", ".*")
	var b strings.Builder
	b.WriteString("groups:\n  - name: dashboard\n    rules:\n")
	for i, q := range dashboardQueries(t) {
		if strings.HasPrefix(q, "label_values(") {
			continue // Grafana's, not PromQL
		}
		js, err := json.Marshal(fill.Replace(q))
		require.NoError(t, err)
		fmt.Fprintf(&b, "      - record: dashboard:query_%d\n        expr: %s\n", i, js)
	}
	file := filepath.Join(t.TempDir(), "dashboard-rules.yml")
	require.NoError(t, os.WriteFile(file, []byte(b.String()), 0o644))
	out, err := exec.Command(promtool, "check", "rules", file).CombinedOutput()
	require.NoError(t, err, "promtool check rules on the dashboard's queries:\n%s\n%s", out, b.String())
}

// The alerting rules pass promtool's check and their unit tests.
func TestAlertRulesPassPromtool(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("MEMBRIDGE_REQUIRE_PROMTOOL") == "1" {
			t.Fatal("MEMBRIDGE_REQUIRE_PROMTOOL=1 but there is no promtool (apt-get install prometheus)")
		}
		t.Skip("no promtool on PATH (Debian's prometheus package; MEMBRIDGE_REQUIRE_PROMTOOL=1 makes it required)")
	}
	for _, args := range [][]string{{"check", "rules", "alerts.yml"}, {"test", "rules", "alerts_test.yml"}} {
		out, err := exec.Command(promtool, args...).CombinedOutput()
		require.NoError(t, err, "promtool %s:\n%s", strings.Join(args, " "), out)
	}
}
