// Package monitoring ships what a Prometheus and Grafana setup needs to
// watch a program that exports membridge's ledger with
// tracker/promcollector:
//
//   - grafana-dashboard.json, a Grafana dashboard (import it, pick the
//     Prometheus data source): live bytes by kind, tag and device, limits
//     and their headroom, dropped handles, out-of-memory retries and
//     failures, limit refusals, reliefs and caches, memory the allocators
//     keep for reuse by kind and device, and each process's
//     membridge_build_info;
//   - alerts.yml, Prometheus alerting rules: handles dropped without Free,
//     live bytes above 90% of a kind's or tag's limit, allocations failing
//     (out of memory after a retry, or refused by a limit), sustained
//     out-of-memory retries; alerts_test.yml holds their unit tests
//     (promtool test rules alerts_test.yml).
//
// The package has no Go API. Its tests check that every metric and label
// the dashboard and the rules use is one the collector exports.
package monitoring
