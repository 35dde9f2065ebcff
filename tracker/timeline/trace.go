// Package timeline shows the ledger's event history (history.Enable)
// over time: as a trace in the Chrome trace event format, which Perfetto
// (ui.perfetto.dev) and chrome://tracing open, and as a self-contained HTML
// page that plots live bytes per kind and device and lists the top
// allocation sites. It can also write a trace whenever an allocation fails
// for want of memory.
package timeline

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/membridge/membridge/tracker"
	"github.com/membridge/membridge/tracker/history"
	"github.com/membridge/membridge/tracker/sitereport"
	"github.com/membridge/membridge/tracker/stacks"
)

// traceEvent is one event of the Chrome trace event format.
type traceEvent struct {
	Name  string         `json:"name"`
	Cat   string         `json:"cat,omitempty"`
	Ph    string         `json:"ph"`
	Ts    float64        `json:"ts"` // microseconds
	Pid   int            `json:"pid"`
	Tid   int            `json:"tid"`
	Scope string         `json:"s,omitempty"`
	Args  map[string]any `json:"args,omitempty"`
}

// Thread ids of the trace: one row for the counters' owner, one per event class.
const (
	tidLeaks    = 1
	tidFailures = 2
	tidLimits   = 3
)

// TrackName names the live-bytes track of one kind on one device, as the
// trace and the page label it: "c-heap (host)", "device (0)".
func TrackName(k tracker.Kind, device int) string {
	return fmt.Sprintf("%s (%s)", k, sitereport.DeviceName(device))
}

// WriteTrace writes events in the Chrome trace event format: a counter
// track of live bytes per kind and device, and instant events for leaks,
// failed allocations (out of memory) and limit refusals, with tag, size and
// the allocation stack where the ledger captured one. Allocations and frees
// themselves appear as the counters' steps, not as events, so a long
// history stays small.
func WriteTrace(w io.Writer, events []history.Event) error {
	out := []traceEvent{
		{Name: "process_name", Ph: "M", Pid: 1, Args: map[string]any{"name": "membridge native memory"}},
		{Name: "thread_name", Ph: "M", Pid: 1, Tid: tidLeaks, Args: map[string]any{"name": "leaks"}},
		{Name: "thread_name", Ph: "M", Pid: 1, Tid: tidFailures, Args: map[string]any{"name": "out of memory"}},
		{Name: "thread_name", Ph: "M", Pid: 1, Tid: tidLimits, Args: map[string]any{"name": "limit refusals"}},
	}
	for _, e := range events {
		ts := float64(e.At) / float64(time.Microsecond)
		switch e.Op {
		case history.EventAlloc, history.EventFree, history.EventHandOff:
			out = append(out, counter(e, ts))
		case history.EventLeak:
			out = append(out, counter(e, ts), instant(e, ts, "leak: handle dropped without Free", tidLeaks))
		case history.EventAllocFailed:
			out = append(out, instant(e, ts, "out of memory", tidFailures))
		case history.EventLimit:
			out = append(out, instant(e, ts, "limit refused", tidLimits))
		case history.EventRetry:
			ev := instant(e, ts, "out-of-memory retry", tidFailures)
			ev.Args["succeeded"] = e.Succeeded
			out = append(out, ev)
		}
	}
	enc := json.NewEncoder(w)
	if err := enc.Encode(map[string]any{"traceEvents": out, "displayTimeUnit": "ms"}); err != nil {
		return fmt.Errorf("timeline: write trace: %w", err)
	}
	return nil
}

func counter(e history.Event, ts float64) traceEvent {
	return traceEvent{
		Name: "live bytes " + TrackName(e.Kind, e.Device), Cat: "memory", Ph: "C", Ts: ts, Pid: 1,
		Args: map[string]any{"bytes": e.LiveBytes},
	}
}

func instant(e history.Event, ts float64, name string, tid int) traceEvent {
	args := map[string]any{
		"kind": e.Kind.String(), "device": sitereport.DeviceName(e.Device), "tag": e.Tag, "bytes": e.Bytes,
	}
	if len(e.Stack) > 0 {
		args["stack"] = stackText(e.Stack)
	}
	return traceEvent{Name: name, Cat: "memory", Ph: "i", Scope: "g", Ts: ts, Pid: 1, Tid: tid, Args: args}
}

func stackText(stack []uintptr) string {
	var b strings.Builder
	for _, f := range stacks.UserFrames(stacks.Frames(stack)) {
		fmt.Fprintf(&b, "%s %s:%d\n", f.Function, f.File, f.Line)
	}
	return b.String()
}

// WriteTraceFile writes the current history (see history.Events) to a file.
func WriteTraceFile(name string) (err error) {
	events, _ := history.Events()
	f, err := os.Create(name)
	if err != nil {
		return fmt.Errorf("timeline: %w", err)
	}
	defer func() {
		if cerr := f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("timeline: %w", cerr)
		}
	}()
	return WriteTrace(f, events)
}

// DumpOnAllocFailure writes a trace of the history into dir each time an
// allocation fails for want of memory (history.EventAllocFailed), at most
// maxFiles files (at least one), named membridge-oom-<time>-<n>.json. It
// needs the history on (history.Enable). stop removes it. Errors are
// written to stderr: the program is already failing.
func DumpOnAllocFailure(dir string, maxFiles int) (stop func()) {
	var written atomic.Int64
	var mu sync.Mutex
	history.SetAllocFailedHook(func(events []history.Event) {
		mu.Lock()
		defer mu.Unlock()
		n := written.Load()
		if n >= int64(max(maxFiles, 1)) {
			return
		}
		written.Add(1)
		name := filepath.Join(dir, fmt.Sprintf("membridge-oom-%s-%d.json", time.Now().UTC().Format("20060102T150405"), n+1))
		if err := writeEvents(name, events); err != nil {
			fmt.Fprintf(os.Stderr, "membridge: out of memory; could not write its trace: %v\n", err)
			return
		}
		fmt.Fprintf(os.Stderr, "membridge: out of memory; trace of the last %d ledger events written to %s\n", len(events), name)
	})
	return func() { history.SetAllocFailedHook(nil) }
}

func writeEvents(name string, events []history.Event) (err error) {
	f, err := os.Create(name)
	if err != nil {
		return fmt.Errorf("timeline: %w", err)
	}
	defer func() {
		if cerr := f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("timeline: %w", cerr)
		}
	}()
	return WriteTrace(f, events)
}
