package timeline

import (
	"fmt"
	"html/template"
	"io"
	"math"
	"strings"
	"time"

	"github.com/membridge/membridge/tracker/history"
	"github.com/membridge/membridge/tracker/sitereport"
)

// The plot's geometry, in SVG user units (pixels at 100% zoom).
const (
	plotLeft   = 84
	plotTop    = 24
	plotWidth  = 860
	plotHeight = 320
	svgWidth   = plotLeft + plotWidth + 24
	svgHeight  = plotTop + plotHeight + 44
)

// palette gives each track a colour; the first is the one tests look for.
var palette = []string{"#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22"}

type series struct {
	Name      string
	Color     string
	Path      string
	Now, Peak string
	peak      int64
	pts       []point
}

type point struct {
	at time.Duration
	v  int64
}

type tick struct {
	Pos   float64
	Label string
}

type marker struct {
	X     float64
	Color string
	Title string
}

type site struct {
	sitereport.Site
	Rank  int
	Bytes string
	Share string
	Where string
	Trace string
}

type pageData struct {
	Generated                 string
	Events, Lost              int
	Span                      string
	Width, Height             int
	Left, Top, Right, Bottom  int
	Series                    []*series
	XTicks, YTicks            []tick
	Markers                   []marker
	Sites                     []site
	LiveTotal, OtherSites     string
	HasOther                  bool
	NoHistory                 bool
	LeakCount, FailCount, Lim int
	Retries                   int
}

// WriteHTML writes a self-contained HTML page (inline SVG and CSS; no
// scripts, fonts or anything else fetched) that plots the live bytes per
// kind and device over the events, marks leaks, failed allocations,
// retries after out-of-memory and limit refusals, and lists the report's
// top allocation sites. The plot scales to the width of the window; its
// axes tick at round steps (1, 2 or 5 times a power of ten seconds, and of
// one binary unit of bytes). lost is how many older events the history let
// go (see history.Events).
func WriteHTML(w io.Writer, events []history.Event, lost uint64, rep sitereport.Report) error {
	d := pageData{
		Generated: rep.Time.Format(time.RFC3339),
		Events:    len(events), Lost: int(lost),
		Width: svgWidth, Height: svgHeight,
		Left: plotLeft, Top: plotTop, Right: plotLeft + plotWidth, Bottom: plotTop + plotHeight,
		NoHistory: len(events) == 0,
	}
	if d.Generated == "0001-01-01T00:00:00Z" {
		d.Generated = time.Now().Format(time.RFC3339)
	}
	d.plot(events)
	total := rep.LiveBytes
	for i, s := range rep.Sites {
		st := site{Site: s, Rank: i + 1, Bytes: sitereport.FormatBytes(s.LiveBytes), Where: "(no stack captured)"}
		if total > 0 {
			st.Share = fmt.Sprintf("%.1f%%", 100*float64(s.LiveBytes)/float64(total))
		}
		if len(s.Stack) > 0 {
			st.Where = fmt.Sprintf("%s %s:%d", s.Stack[0].Function, shortFile(s.Stack[0].File), s.Stack[0].Line)
			var b strings.Builder
			for _, f := range s.Stack {
				fmt.Fprintf(&b, "%s\n    %s:%d\n", f.Function, f.File, f.Line)
			}
			st.Trace = b.String()
		}
		d.Sites = append(d.Sites, st)
	}
	d.LiveTotal = sitereport.FormatBytes(total)
	if rep.OtherSites > 0 {
		d.HasOther = true
		d.OtherSites = fmt.Sprintf("%s in %d more sites", sitereport.FormatBytes(rep.OtherBytes), rep.OtherSites)
	}
	if err := pageTemplate.Execute(w, d); err != nil {
		return fmt.Errorf("timeline: write HTML: %w", err)
	}
	return nil
}

func shortFile(f string) string {
	parts := strings.Split(f, "/")
	if len(parts) > 2 {
		return strings.Join(parts[len(parts)-2:], "/")
	}
	return f
}

// plot turns the events into one step line per track, axis ticks and markers.
func (d *pageData) plot(events []history.Event) {
	if len(events) == 0 {
		return
	}
	t0, t1 := events[0].At, events[len(events)-1].At
	if t1 <= t0 {
		t1 = t0 + time.Millisecond
	}
	d.Span = fmt.Sprintf("%s of events, from %s to %s after the ledger started",
		(t1 - t0).Round(time.Millisecond), t0.Round(time.Millisecond), t1.Round(time.Millisecond))
	byName := map[string]*series{}
	var vmax int64 = 1
	for _, e := range events {
		x := d.x(e.At, t0, t1)
		switch e.Op {
		case history.EventLeak:
			d.LeakCount++
			d.Markers = append(d.Markers, marker{X: x, Color: "#d62728", Title: fmt.Sprintf("leak: %s of tag %q dropped without Free", sitereport.FormatBytes(e.Bytes), e.Tag)})
		case history.EventAllocFailed:
			d.FailCount++
			d.Markers = append(d.Markers, marker{X: x, Color: "#000000", Title: fmt.Sprintf("out of memory: %s of tag %q", sitereport.FormatBytes(e.Bytes), e.Tag)})
		case history.EventRetry:
			d.Retries++
			d.Markers = append(d.Markers, marker{X: x, Color: "#9467bd", Title: fmt.Sprintf("out-of-memory retry of %s of tag %q (succeeded: %t)", sitereport.FormatBytes(e.Bytes), e.Tag, e.Succeeded)})
		case history.EventLimit:
			d.Lim++
			d.Markers = append(d.Markers, marker{X: x, Color: "#7f7f7f", Title: fmt.Sprintf("limit refused %s of tag %q", sitereport.FormatBytes(e.Bytes), e.Tag)})
		}
		if e.Op == history.EventLimit || e.Op == history.EventAllocFailed || e.Op == history.EventRetry {
			continue
		}
		name := TrackName(e.Kind, e.Device)
		s := byName[name]
		if s == nil {
			s = &series{Name: name, Color: palette[len(d.Series)%len(palette)]}
			byName[name] = s
			d.Series = append(d.Series, s)
			// The track's level before its first event in the window.
			before := e.LiveBytes
			switch e.Op {
			case history.EventAlloc:
				before -= e.Bytes
			case history.EventFree, history.EventHandOff:
				before += e.Bytes
			}
			s.pts = append(s.pts, point{t0, before})
		}
		s.pts = append(s.pts, point{e.At, e.LiveBytes})
		s.peak = max(s.peak, e.LiveBytes)
		vmax = max(vmax, e.LiveBytes, s.pts[0].v)
	}
	top, yticks := byteTicks(vmax)
	for _, yt := range yticks {
		d.YTicks = append(d.YTicks, tick{Pos: d.y(int64(yt.Pos), top), Label: yt.Label})
	}
	step, xticks := timeTicks(t0, t1)
	for _, at := range xticks {
		d.XTicks = append(d.XTicks, tick{Pos: d.x(at, t0, t1), Label: secondsLabel(at, step)})
	}
	for _, s := range d.Series {
		s.Path = d.path(s.pts, t0, t1, top)
		s.Now = sitereport.FormatBytes(s.pts[len(s.pts)-1].v)
		s.Peak = sitereport.FormatBytes(max(s.peak, s.pts[0].v))
	}
}

func (d *pageData) x(at, t0, t1 time.Duration) float64 {
	return float64(plotLeft) + float64(at-t0)/float64(t1-t0)*plotWidth
}

func (d *pageData) y(v, top int64) float64 {
	return float64(plotTop) + plotHeight - float64(v)/float64(top)*plotHeight
}

// path draws a step line. Points that fall in the same pixel column are
// drawn as one vertical stroke over their range, so the path stays small
// for long histories and short spikes stay visible.
func (d *pageData) path(pts []point, t0, t1 time.Duration, top int64) string {
	var b strings.Builder
	first := pts[0]
	fmt.Fprintf(&b, "M%.1f %.1f", d.x(first.at, t0, t1), d.y(first.v, top))
	col := math.Round(d.x(first.at, t0, t1))
	lo, hi, last := first.v, first.v, first.v
	flush := func() {
		fmt.Fprintf(&b, "H%.0f", col)
		if lo != hi {
			fmt.Fprintf(&b, "V%.1fV%.1f", d.y(hi, top), d.y(lo, top))
		}
		fmt.Fprintf(&b, "V%.1f", d.y(last, top))
	}
	for _, p := range pts[1:] {
		c := math.Round(d.x(p.at, t0, t1))
		if c != col {
			flush()
			col, lo, hi = c, last, last
		}
		lo, hi, last = min(lo, p.v), max(hi, p.v), p.v
	}
	flush()
	fmt.Fprintf(&b, "H%d", plotLeft+plotWidth)
	return b.String()
}

// The axes aim at five intervals; with round steps they get four to eight.
const (
	targetIntervals = 5
	maxTicks        = 9
)

// niceStep returns the step of 1, 2 or 5 times a power of ten nearest (on
// a log scale) to span/5, so ticks fall on round numbers.
func niceStep(span float64) float64 {
	if !(span > 0) || math.IsInf(span, 0) {
		return 1
	}
	raw := span / targetIntervals
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	best := p
	for _, m := range []float64{2, 5, 10} {
		if math.Abs(math.Log(m*p/raw)) < math.Abs(math.Log(best/raw)) {
			best = m * p
		}
	}
	return best
}

// timeTicks returns the step and the ticks of the time axis: the multiples
// of a round step (1, 2 or 5 times a power of ten seconds) within [t0, t1].
func timeTicks(t0, t1 time.Duration) (time.Duration, []time.Duration) {
	step := time.Duration(niceStep(float64(t1-t0)/float64(time.Second)) * float64(time.Second))
	step = max(step, time.Nanosecond)
	var ticks []time.Duration
	first := (t0 + step - 1) / step * step
	if t0 < 0 {
		first = t0 / step * step
	}
	for at := first; at <= t1; at += step {
		ticks = append(ticks, at)
	}
	return step, ticks
}

// secondsLabel writes a tick in seconds with as many decimals as its step
// needs: "1.5s" for a step of 0.5 s, "12s" for a step of 2 s.
func secondsLabel(at, step time.Duration) string {
	decimals := 0
	for s := step; s%time.Second != 0 && decimals < 9; decimals++ {
		s *= 10
	}
	return fmt.Sprintf("%.*fs", decimals, at.Seconds())
}

// byteTicks returns the top of the byte axis and its ticks from 0: the
// multiples of a round step of one binary unit (1, 2 or 5 times a power of
// ten B, KiB, MiB, ...), up to the first at or above vmax. Every label is in
// that one unit, with the decimals the step needs: "0.5 MiB", "1.0 MiB".
func byteTicks(vmax int64) (top int64, ticks []tick) {
	vmax = max(vmax, 1)
	unit, name := int64(1), "B"
	for _, u := range []string{"KiB", "MiB", "GiB", "TiB", "PiB"} {
		if vmax/1024 < unit {
			break
		}
		unit *= 1024
		name = u
	}
	step := niceStep(float64(vmax) / float64(unit))
	decimals := max(0, int(-math.Floor(math.Log10(step)+1e-9)))
	if unit == 1 {
		step, decimals = max(step, 1), 0
	}
	for i := 0; ; i++ {
		v := float64(i) * step
		b := int64(math.Round(v * float64(unit)))
		ticks = append(ticks, tick{Pos: float64(b), Label: fmt.Sprintf("%.*f %s", decimals, v, name)})
		if b >= vmax {
			return b, ticks
		}
	}
}

var pageTemplate = template.Must(template.New("page").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>membridge memory timeline</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;background:#fff}
h1{font-size:20px;margin:0 0 4px} h2{font-size:16px;margin:24px 0 8px}
.meta{color:#555;margin:0 0 12px}
svg text{font:12px system-ui,sans-serif;fill:#444}
svg.plot{display:block;width:100%;max-width:1600px;height:auto}
.grid{stroke:#e4e4e4} .axis{stroke:#888}
.legend span{display:inline-block;margin-right:18px}
.legend i{display:inline-block;width:14px;height:4px;margin:0 6px 3px 0;vertical-align:middle}
table{border-collapse:collapse;width:100%} th,td{text-align:left;padding:4px 8px;border-bottom:1px solid #eee;vertical-align:top}
th{background:#f6f6f6} td.n{text-align:right;white-space:nowrap}
code,pre{font:12px ui-monospace,monospace} pre{margin:4px 0;white-space:pre-wrap}
</style></head><body>
<h1>membridge: native and device memory over time</h1>
<p class="meta">Generated {{.Generated}}. {{.Events}} ledger events{{if .Lost}} ({{.Lost}} older ones let go by the bounded history){{end}}{{if .Span}}; {{.Span}}{{end}}.
{{if .LeakCount}} {{.LeakCount}} leaks.{{end}}{{if .FailCount}} {{.FailCount}} failed allocations (out of memory).{{end}}{{if .Retries}} {{.Retries}} retries after out-of-memory.{{end}}{{if .Lim}} {{.Lim}} limit refusals.{{end}}</p>
{{if .NoHistory}}<p><b>No history.</b> Turn it on with <code>history.Enable(n)</code> to see live bytes over time.</p>{{else}}
<div class="legend">{{range .Series}}<span><i style="background:{{.Color}}"></i>{{.Name}}: {{.Now}} now, peak {{.Peak}}</span>{{end}}</div>
<svg xmlns="http://www.w3.org/2000/svg" class="plot" viewBox="0 0 {{.Width}} {{.Height}}" role="img" aria-label="live bytes per kind and device over time">
{{$l := .Left}}{{$r := .Right}}{{$t := .Top}}{{$b := .Bottom}}
{{range .YTicks}}<line class="grid" x1="{{$l}}" x2="{{$r}}" y1="{{.Pos}}" y2="{{.Pos}}"/><text x="{{$l}}" dx="-6" y="{{.Pos}}" dy="4" text-anchor="end">{{.Label}}</text>
{{end}}{{range .XTicks}}<line class="grid" x1="{{.Pos}}" x2="{{.Pos}}" y1="{{$t}}" y2="{{$b}}"/><text x="{{.Pos}}" y="{{$b}}" dy="18" text-anchor="middle">{{.Label}}</text>
{{end}}<line class="axis" x1="{{$l}}" x2="{{$r}}" y1="{{$b}}" y2="{{$b}}"/><line class="axis" x1="{{$l}}" x2="{{$l}}" y1="{{$t}}" y2="{{$b}}"/>
<text x="{{$r}}" y="{{$b}}" dy="36" text-anchor="end">seconds since the ledger started</text>
{{range .Series}}<path d="{{.Path}}" fill="none" stroke="{{.Color}}" stroke-width="2"><title>{{.Name}}</title></path>
{{end}}{{range .Markers}}<path d="M{{.X}} {{$t}}l-5 -10h10z" fill="{{.Color}}"><title>{{.Title}}</title></path>
{{end}}</svg>{{end}}
<h2>Top allocation sites by live bytes ({{.LiveTotal}} live)</h2>
<table><tr><th>#</th><th>live</th><th>share</th><th>allocations</th><th>tag</th><th>kind</th><th>device</th><th>where</th></tr>
{{range .Sites}}<tr><td>{{.Rank}}</td><td class="n">{{.Bytes}}</td><td class="n">{{.Share}}</td><td class="n">{{.LiveCount}}</td><td>{{.Tag}}</td><td>{{.Kind}}</td><td>{{if lt .Device 0}}host{{else}}{{.Device}}{{end}}</td>
<td>{{if .Trace}}<details><summary><code>{{.Where}}</code></summary><pre>{{.Trace}}</pre></details>{{else}}{{.Where}}{{end}}</td></tr>
{{end}}</table>{{if .HasOther}}<p>... and {{.OtherSites}}.</p>{{end}}
</body></html>
`))
