// Package debughttp serves everything membridge can show about its memory
// from one http.Handler, for a program's debug port:
//
//	http.Handle("/debug/membridge/", debughttp.Handler())
//
// Under that prefix:
//
//	/debug/membridge/             a live summary: bytes by kind, tag and device,
//	                              limits and their headroom, dropped handles,
//	                              tags kept and overflowed (tracker.MaxTags),
//	                              memory the allocators keep for reuse
//	                              (tracker.CachedStats), pressure, caches,
//	                              the top sites, and links to:
//	/debug/membridge/report.txt   the top allocation sites by live bytes, as text
//	/debug/membridge/report.json  the same, as JSON
//	/debug/membridge/profile      a pprof profile (go tool pprof URL)
//	/debug/membridge/trace.json   the event history in the Chrome trace format (Perfetto)
//	/debug/membridge/timeline     an HTML page plotting live bytes over time
//
// The index, the reports and the page take ?top=N (default 20) and everything takes
// ?gc=1, which runs a garbage collection first so the safety net has found
// the handles dropped since the last one. The trace and the plot need the
// event history on (history.Enable).
package debughttp

import (
	"bytes"
	"html/template"
	"net/http"
	"path"
	"strconv"

	"github.com/membridge/membridge/tracker"
	"github.com/membridge/membridge/tracker/history"
	"github.com/membridge/membridge/tracker/memprofile"
	"github.com/membridge/membridge/tracker/sitereport"
	"github.com/membridge/membridge/tracker/timeline"
)

// DefaultTop is how many allocation sites the reports and the page list
// unless ?top= says otherwise.
const DefaultTop = 20

// Handler returns the debug endpoint. It serves by the last element of the
// request path, so it works under any prefix that ends in a slash.
func Handler() http.Handler {
	return http.HandlerFunc(serve)
}

func serve(w http.ResponseWriter, r *http.Request) {
	if r.FormValue("gc") == "1" {
		tracker.GC()
	}
	top := DefaultTop
	if s := r.FormValue("top"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			http.Error(w, "debughttp: top must be a whole number >= 0 (0: all sites)", http.StatusBadRequest)
			return
		}
		top = n
	}
	var buf bytes.Buffer
	var err error
	contentType := "text/plain; charset=utf-8"
	name := path.Base(r.URL.Path)
	if len(r.URL.Path) > 0 && r.URL.Path[len(r.URL.Path)-1] == '/' {
		name = ""
	}
	switch name {
	case "", ".", "/", "membridge":
		contentType = "text/html; charset=utf-8"
		err = index.Execute(&buf, summarize(top))
	case "report.txt":
		err = sitereport.Take(top).WriteText(&buf)
	case "report.json":
		contentType = "application/json"
		err = sitereport.Take(top).WriteJSON(&buf)
	case "profile":
		memprofile.Handler().ServeHTTP(w, r)
		return
	case "trace.json":
		contentType = "application/json"
		w.Header().Set("Content-Disposition", `attachment; filename="membridge-trace.json"`)
		events, _ := history.Events()
		err = timeline.WriteTrace(&buf, events)
	case "timeline":
		contentType = "text/html; charset=utf-8"
		events, lost := history.Events()
		err = timeline.WriteHTML(&buf, events, lost, sitereport.Take(top))
	default:
		http.NotFound(w, r)
		return
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Write(buf.Bytes())
}

var index = template.Must(template.New("index").Funcs(template.FuncMap{
	"bytes": sitereport.FormatBytes, "device": sitereport.DeviceName, "where": where,
	"inc": func(i int) int { return i + 1 },
}).Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>membridge debug</title>
<style>body{font:14px/1.5 system-ui,sans-serif;margin:24px;color:#222} code{font:13px ui-monospace,monospace}
h2{font-size:16px;margin:20px 0 6px} table{border-collapse:collapse} th,td{text-align:left;padding:2px 10px;border-bottom:1px solid #eee}
th{background:#f6f6f6} td.n{text-align:right;white-space:nowrap} .warn{color:#b00020;font-weight:600}</style></head><body>
<h1>membridge</h1>
<p>{{bytes .LiveBytes}} live in {{.LiveCount}} allocations at {{.Time}}.
{{if .DroppedCount}}<span class="warn">{{.DroppedCount}} handles ({{bytes .DroppedBytes}}) were dropped without Free: leaks the safety net found.</span>{{else}}No handle dropped without Free.{{end}}
{{if .CachedBytes}}{{bytes .CachedBytes}} in {{.CachedBlocks}} blocks kept for reuse by the allocators (not live, not a leak).
{{end}}Stack rate {{.StackRate}} (0: off, 1: every allocation, N: one stack per N bytes). Event history {{if .HistoryOn}}on{{else}}off: the trace and the timeline are empty until <code>history.Enable</code>{{end}}.</p>
<h2>By kind</h2>
<table><tr><th>kind</th><th>live</th><th>allocations</th><th>peak</th><th>dropped</th><th>limit</th><th>headroom</th></tr>
{{range .Kinds}}<tr><td>{{.Name}}</td><td class="n">{{bytes .LiveBytes}}</td><td class="n">{{.LiveCount}}</td><td class="n">{{bytes .PeakBytes}}</td><td class="n{{if .DroppedCount}} warn{{end}}">{{.DroppedCount}}</td>{{template "limit" .}}</tr>
{{else}}<tr><td colspan="7">nothing allocated yet</td></tr>
{{end}}</table>
<h2>By tag</h2>
<p>{{.TagsKept}} tags kept{{if .MaxTags}} of at most {{.MaxTags}}{{end}}.
{{if .TagsOverflowed}}<span class="warn">{{.TagsOverflowed}} tags overflowed: their memory is counted under the tag {{.OverflowTag}}. Tags made from data (a request id, a user) do that; otherwise raise the cap (<code>tracker.SetMaxTags</code>).</span>{{else}}No tag overflowed.{{end}}</p>
<table><tr><th>tag</th><th>live</th><th>allocations</th><th>dropped</th><th>limit</th><th>headroom</th></tr>
{{range .Tags}}<tr><td>{{.Name}}</td><td class="n">{{bytes .LiveBytes}}</td><td class="n">{{.LiveCount}}</td><td class="n{{if .DroppedCount}} warn{{end}}">{{.DroppedCount}}</td>{{template "limit" .}}</tr>
{{end}}</table>
<h2>By device</h2>
<table><tr><th>device</th><th>live</th><th>allocations</th></tr>
{{range .Devices}}<tr><td>{{device .Device}}</td><td class="n">{{bytes .LiveBytes}}</td><td class="n">{{.LiveCount}}</td></tr>
{{end}}</table>
{{if .Cached}}<h2>Kept for reuse by the allocators</h2>
<p>Memory the program freed that the allocators keep for the next allocation instead of giving it back: not live, counted by no limit, never a leak. It is given back first when an allocator runs out of memory.</p>
<table><tr><th>kind</th><th>device</th><th>cached</th><th>blocks</th></tr>
{{range .Cached}}<tr><td>{{.Kind}}</td><td>{{device .Device}}</td><td class="n">{{bytes .Bytes}}</td><td class="n">{{.Blocks}}</td></tr>
{{end}}</table>{{end}}
<h2>Pressure</h2>
<p>{{.Pressure.Retries}} allocations retried after out-of-memory ({{.Pressure.RetrySuccesses}} then succeeded); {{.Pressure.LimitWaits}} waits for a limit ({{.Pressure.LimitWaitTimeouts}} timed out); {{.Pressure.Reliefs}} reliefs freed {{bytes .Pressure.ReliefBytes}}.</p>
{{if .Caches}}<h2>Caches</h2>
<table><tr><th>cache</th><th>bytes</th><th>entries</th><th>hits</th><th>misses</th><th>evictions</th></tr>
{{range .Caches}}<tr><td>{{.Name}}</td><td class="n">{{bytes .Bytes}}</td><td class="n">{{.Entries}}</td><td class="n">{{.Hits}}</td><td class="n">{{.Misses}}</td><td class="n">{{.Evictions}}</td></tr>
{{end}}</table>{{end}}
<h2>Top {{len .Sites}} allocation sites by live bytes</h2>
<table><tr><th>#</th><th>live</th><th>allocations</th><th>tag</th><th>kind</th><th>device</th><th>where</th></tr>
{{range $i, $s := .Sites}}<tr><td>{{inc $i}}</td><td class="n">{{bytes .LiveBytes}}</td><td class="n">{{.LiveCount}}{{if .Dropped}} <span class="warn">({{.Dropped}} dropped)</span>{{end}}</td><td>{{.Tag}}</td><td>{{.Kind}}</td><td>{{device .Device}}</td><td><code>{{where .}}</code></td></tr>
{{end}}</table>{{if .OtherSites}}<p>... and {{bytes .OtherBytes}} in {{.OtherSites}} more sites.</p>{{end}}
<h2>More</h2>
<ul>
<li><a href="report.txt">report.txt</a>: the top {{.Top}} allocation sites by live bytes, with their stacks</li>
<li><a href="report.json">report.json</a>: the same, as JSON</li>
<li><a href="profile">profile</a>: pprof profile; <code>go tool pprof -http=:0 URL</code>, or <code>?seconds=N</code> for what changed over N seconds</li>
<li><a href="trace.json">trace.json</a>: the event history for ui.perfetto.dev or chrome://tracing</li>
<li><a href="timeline">timeline</a>: live bytes per kind and device over time</li>
</ul></body></html>
{{define "limit"}}{{if .Limit}}<td class="n">{{bytes .Limit}}</td><td class="n{{if lt .Headroom .Tenth}} warn{{end}}">{{bytes .Headroom}} ({{.Used}} used)</td>{{else}}<td>none</td><td></td>{{end}}{{end}}
`))
