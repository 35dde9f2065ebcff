// Package debughttp serves everything membridge can show about its memory
// from one http.Handler, for a program's debug port:
//
//	http.Handle("/debug/membridge/", debughttp.Handler())
//
// Under that prefix:
//
//	/debug/membridge/             an index of the pages below
//	/debug/membridge/report.txt   the top allocation sites by live bytes, as text
//	/debug/membridge/report.json  the same, as JSON
//	/debug/membridge/profile      a pprof profile (go tool pprof URL)
//	/debug/membridge/trace.json   the event history in the Chrome trace format (Perfetto)
//	/debug/membridge/timeline     an HTML page plotting live bytes over time
//
// The reports and the page take ?top=N (default 20) and everything takes
// ?gc=1, which runs a garbage collection first so the safety net has found
// the handles dropped since the last one. The trace and the plot need the
// event history on (tracker.EnableHistory).
package debughttp

import (
	"bytes"
	"html/template"
	"net/http"
	"path"
	"strconv"

	"github.com/membridge/membridge/tracker"
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
		err = index.Execute(&buf, indexData{HistoryOn: tracker.HistoryEnabled(), StackRate: tracker.StackRate(), Top: top})
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
		events, _ := tracker.History()
		err = timeline.WriteTrace(&buf, events)
	case "timeline":
		contentType = "text/html; charset=utf-8"
		events, lost := tracker.History()
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

type indexData struct {
	HistoryOn bool
	StackRate int64
	Top       int
}

var index = template.Must(template.New("index").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>membridge debug</title>
<style>body{font:14px/1.5 system-ui,sans-serif;margin:24px} code{font:13px ui-monospace,monospace}</style></head><body>
<h1>membridge</h1>
<p>Stack rate {{.StackRate}} (0: off, 1: every allocation, N: one stack per N bytes). Event history {{if .HistoryOn}}on{{else}}off: the trace and the timeline are empty until <code>tracker.EnableHistory</code>{{end}}.</p>
<ul>
<li><a href="report.txt">report.txt</a>: the top {{.Top}} allocation sites by live bytes</li>
<li><a href="report.json">report.json</a>: the same, as JSON</li>
<li><a href="profile">profile</a>: pprof profile; <code>go tool pprof -http=:0 URL</code></li>
<li><a href="trace.json">trace.json</a>: the event history for ui.perfetto.dev or chrome://tracing</li>
<li><a href="timeline">timeline</a>: live bytes per kind and device over time</li>
</ul></body></html>
`))
