package leaktest

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/membridge/membridge/tracker"
	"github.com/membridge/membridge/tracker/internal/stackutil"
)

// A LeakSite is the records of one allocation site (the same stack, kind
// and tag) grouped for a report.
type LeakSite struct {
	Kind    tracker.Kind
	Device  int
	Tag     string
	Stack   []uintptr // nil when no stack was captured
	Bytes   int64
	Count   int
	Dropped int           // how many handles were dropped without a free
	Oldest  time.Duration // age of the oldest record
	Tests   []string      // tests blamed, when known
}

// GroupBySite groups records, as snapshots (LiveSnapshots), by allocation
// site, most bytes first.
func GroupBySite(recs []tracker.Snapshot) []LeakSite {
	idx := map[string]int{}
	var out []LeakSite
	for _, r := range recs {
		k := fmt.Sprintf("%d/%d/%s/%v", r.Kind, r.Device, r.Tag, r.Stack)
		i, ok := idx[k]
		if !ok {
			i = len(out)
			idx[k] = i
			out = append(out, LeakSite{Kind: r.Kind, Device: r.Device, Tag: r.Tag, Stack: r.Stack})
		}
		s := &out[i]
		s.Bytes += r.Bytes
		s.Count++
		if r.Dropped {
			s.Dropped++
		}
		if age := r.Age(); age > s.Oldest {
			s.Oldest = age
		}
		if t := stackutil.TestFrame(r.Stack); t != "" && !contains(s.Tests, t) {
			s.Tests = append(s.Tests, t)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Bytes > out[j].Bytes })
	return out
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// WriteLeakReport writes a report a person can act on: one paragraph per
// allocation site with bytes, count, tag, kind, age and the stack. It
// returns w's error.
func WriteLeakReport(w io.Writer, recs []*tracker.Record) error {
	_, err := io.WriteString(w, FormatLeaks(recs))
	return err
}

// writeLeaks builds WriteLeakReport's text; a strings.Builder never fails.
func writeLeaks(w *strings.Builder, recs []*tracker.Record) {
	snaps := make([]tracker.Snapshot, len(recs))
	for i, r := range recs {
		snaps[i] = r.Snapshot()
	}
	sites := GroupBySite(snaps)
	var total int64
	for _, s := range sites {
		total += s.Bytes
	}
	fmt.Fprintf(w, "membridge: LEAK of %d bytes in %s from %s\n", total, plural(len(recs), "allocation"), plural(len(sites), "site"))
	for _, s := range sites {
		fmt.Fprintf(w, "\n%d bytes in %s, tag %q, kind %s", s.Bytes, plural(s.Count, "allocation"), s.Tag, s.Kind)
		if s.Device >= 0 {
			fmt.Fprintf(w, ", device %d", s.Device)
		}
		fmt.Fprintf(w, ", oldest %s ago", s.Oldest.Round(time.Millisecond))
		if len(s.Tests) > 0 {
			fmt.Fprintf(w, ", made by %s", strings.Join(s.Tests, ", "))
		}
		if s.Dropped > 0 {
			fmt.Fprintf(w, "; %d dropped without Free", s.Dropped)
		}
		fmt.Fprintln(w)
		if len(s.Stack) == 0 {
			fmt.Fprintln(w, "    (no stack: set MEMBRIDGE_TRACK=all to record every allocation's stack)")
			continue
		}
		stackutil.WriteStack(w, s.Stack, "    ")
	}
}

// FormatLeaks returns WriteLeakReport's text.
func FormatLeaks(recs []*tracker.Record) string {
	var b strings.Builder
	writeLeaks(&b, recs)
	return b.String()
}
