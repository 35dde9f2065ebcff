// Package sitereport writes a plain report of the memory in membridge's
// ledger, for terminals and for programs: live and peak bytes per kind and
// device, and the top allocation sites by live bytes with their stacks, as
// text or as JSON.
//
// Figures are the ledger's exact bytes, never scaled. In the sampled mode
// most records have no stack; they are grouped per kind, device and tag in a
// site without a stack, so every live byte is in the report.
package sitereport

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/membridge/membridge/tracker"
	"github.com/membridge/membridge/tracker/leaktest"
	"github.com/membridge/membridge/tracker/stacks"
)

// A Report is a snapshot of the ledger.
type Report struct {
	Time       time.Time   `json:"time"`
	StackRate  int64       `json:"stack_rate"` // see tracker.SetStackRate
	LiveBytes  int64       `json:"live_bytes"`
	LiveCount  int64       `json:"live_count"`
	Kinds      []KindTotal `json:"kinds"`
	Sites      []Site      `json:"sites"`       // the top sites, most live bytes first
	OtherSites int         `json:"other_sites"` // sites left out of Sites
	OtherBytes int64       `json:"other_bytes"` // their live bytes
}

// KindTotal is one kind of memory on one device.
type KindTotal struct {
	Kind      string `json:"kind"`
	Device    int    `json:"device"` // -1 for host memory
	LiveBytes int64  `json:"live_bytes"`
	LiveCount int64  `json:"live_count"`
	PeakBytes int64  `json:"peak_bytes"` // the highest of the tags' peaks when several tags share the device
}

// A Site is the live records of one allocation site (stack, kind, device, tag).
type Site struct {
	Kind          string  `json:"kind"`
	Device        int     `json:"device"`
	Tag           string  `json:"tag"`
	LiveBytes     int64   `json:"live_bytes"`
	LiveCount     int     `json:"live_count"`
	Dropped       int     `json:"dropped,omitempty"` // handles dropped without a free, memory kept (LeakReport)
	OldestSeconds float64 `json:"oldest_seconds"`
	Stack         []Frame `json:"stack,omitempty"` // innermost first; empty when no stack was captured
}

// A Frame is one frame of a stack.
type Frame struct {
	Function string `json:"function"`
	File     string `json:"file"`
	Line     int    `json:"line"`
}

// Take snapshots the ledger, keeping the top sites (all of them when top <= 0).
func Take(top int) Report {
	rep := Report{Time: time.Now(), StackRate: tracker.StackRate()}
	kinds := map[[2]int]*KindTotal{}
	var order [][2]int
	for _, s := range tracker.AllStats() {
		if s.AllocatedCount == 0 && s.LiveCount == 0 {
			continue
		}
		k := [2]int{int(s.Kind), s.Device}
		kt := kinds[k]
		if kt == nil {
			kt = &KindTotal{Kind: s.Kind.String(), Device: s.Device}
			kinds[k] = kt
			order = append(order, k)
		}
		kt.LiveBytes += s.LiveBytes
		kt.LiveCount += s.LiveCount
		kt.PeakBytes = max(kt.PeakBytes, s.PeakBytes)
	}
	for _, k := range order {
		rep.Kinds = append(rep.Kinds, *kinds[k])
	}
	recs := tracker.LiveSnapshots()
	rep.LiveCount = int64(len(recs))
	for _, g := range leaktest.GroupBySite(recs) {
		rep.LiveBytes += g.Bytes
		if top > 0 && len(rep.Sites) >= top {
			rep.OtherSites++
			rep.OtherBytes += g.Bytes
			continue
		}
		s := Site{
			Kind: g.Kind.String(), Device: g.Device, Tag: g.Tag,
			LiveBytes: g.Bytes, LiveCount: g.Count, Dropped: g.Dropped,
			OldestSeconds: g.Oldest.Seconds(),
		}
		for _, f := range stacks.UserFrames(stacks.Frames(g.Stack)) {
			s.Stack = append(s.Stack, Frame{Function: f.Function, File: f.File, Line: f.Line})
		}
		rep.Sites = append(rep.Sites, s)
	}
	return rep
}

// WriteJSON writes the report as one indented JSON object.
func (r Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("sitereport: write JSON: %w", err)
	}
	return nil
}

// textFrames is how many frames of each stack the text report shows.
const textFrames = 8

// WriteText writes the report for a person at a terminal.
func (r Report) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "membridge: %s live in %d allocations at %s (stack rate %d)\n",
		FormatBytes(r.LiveBytes), r.LiveCount, r.Time.Format(time.RFC3339), r.StackRate)
	if len(r.Kinds) > 0 {
		fmt.Fprintf(&b, "\n%-18s %-7s %12s %9s %12s\n", "kind", "device", "live", "count", "peak")
		for _, k := range r.Kinds {
			fmt.Fprintf(&b, "%-18s %-7s %12s %9d %12s\n", k.Kind, DeviceName(k.Device), FormatBytes(k.LiveBytes), k.LiveCount, FormatBytes(k.PeakBytes))
		}
	}
	if len(r.Sites) > 0 {
		fmt.Fprintf(&b, "\ntop %d allocation sites by live bytes:\n", len(r.Sites))
	}
	for i, s := range r.Sites {
		share := 0.0
		if r.LiveBytes > 0 {
			share = 100 * float64(s.LiveBytes) / float64(r.LiveBytes)
		}
		fmt.Fprintf(&b, "\n%2d. %s (%.1f%%) in %d allocations, tag %q, %s on %s, oldest %s",
			i+1, FormatBytes(s.LiveBytes), share, s.LiveCount, s.Tag, s.Kind, DeviceName(s.Device),
			(time.Duration(s.OldestSeconds * float64(time.Second))).Round(time.Millisecond))
		if s.Dropped > 0 {
			fmt.Fprintf(&b, ", %d dropped without Free", s.Dropped)
		}
		b.WriteByte('\n')
		if len(s.Stack) == 0 {
			b.WriteString("      (no stack: not sampled; MEMBRIDGE_TRACK=all records every stack)\n")
		}
		for j, f := range s.Stack {
			if j == textFrames {
				fmt.Fprintf(&b, "      ... %d more frames\n", len(s.Stack)-textFrames)
				break
			}
			fmt.Fprintf(&b, "      %s\n          %s:%d\n", f.Function, f.File, f.Line)
		}
	}
	if r.OtherSites > 0 {
		fmt.Fprintf(&b, "\n... and %s in %d more sites\n", FormatBytes(r.OtherBytes), r.OtherSites)
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("sitereport: write text: %w", err)
	}
	return nil
}

// DeviceName names a device as reports and labels do: "host" for -1, else
// the ordinal.
func DeviceName(d int) string {
	if d < 0 {
		return "host"
	}
	return fmt.Sprint(d)
}

// FormatBytes writes a byte count with a binary unit: "512 B", "1.5 KiB".
func FormatBytes(n int64) string {
	const unit = 1024
	if n < unit && n > -unit {
		return fmt.Sprintf("%d B", n)
	}
	f := float64(n)
	for _, u := range []string{"KiB", "MiB", "GiB", "TiB"} {
		f /= unit
		if f < unit && f > -unit {
			return fmt.Sprintf("%.1f %s", f, u)
		}
	}
	return fmt.Sprintf("%.1f PiB", f/unit)
}
