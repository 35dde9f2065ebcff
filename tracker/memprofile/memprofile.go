// Package memprofile writes the native and device memory in membridge's
// ledger as a pprof profile, so `go tool pprof` shows it the way it shows
// Go's heap: top, list, flame graphs, and diffs against an earlier profile
// with -diff_base.
//
// The profile has Go's heap profile's four sample types: inuse_space and
// inuse_objects (live now, the default), alloc_space and alloc_objects
// (allocated since the program started). Each sample carries string labels
// kind, tag and device ("host" or the device ordinal), so -tagfocus and
// -tagroot work on them; memory whose handle was dropped without a free and
// kept alive by the LeakReport policy also carries dropped=true.
//
// Memory the allocators keep for reuse (tracker.CachedStats: freed by the
// program, not given back) is in the in-use sample types too, as samples
// of its own: one per kind and device, under one frame named
// "membridge: cached (<kind>, <device>)", such as "membridge: cached
// (c-heap, host)", and labelled
// cached=true, so -top shows it beside the user's functions and
// -tagignore=cached=true leaves it out. It has no tag and no alloc_*
// values: the program's allocations of it were counted when it made them.
//
// Stacks come from the ledger (see tracker.SetStackRate and the
// MEMBRIDGE_TRACK environment variable). In the sampled mode each sampled
// record stands for stacks.SampleWeight(n, rate) bytes, as in Go's heap
// profiler, so totals are right on average. In the off mode no record has a
// stack: the profile then holds exact totals under one frame per kind and
// tag, named "<kind> <tag> (no stack)".
//
// Each stack starts at the user's call into membridge: the frames of
// membridge's own allocation paths (native.Alloc, cuda.Context.Alloc and
// what they call) are left out, as in the text reports, so `go tool pprof
// -top` and flame graphs put the flat bytes on the user's function.
//
// Importing the package turns on the ledger's per-site allocation totals
// (sites.Track), which the alloc_* sample types come from; they cost
// a map update per sampled allocation.
package memprofile

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"time"
	"unsafe"

	"github.com/google/pprof/profile"

	"github.com/membridge/membridge/tracker"
	"github.com/membridge/membridge/tracker/sites"
	"github.com/membridge/membridge/tracker/stacks"
)

func init() { sites.Track(true) }

// The sample types, in the order of each sample's values.
const (
	allocObjects = iota
	allocSpace
	inuseObjects
	inuseSpace
)

type sampleKey struct {
	kind    tracker.Kind
	device  int
	tag     string
	dropped bool
	stack   string // the PCs as bytes; "" for no stack
}

type aggregate struct {
	stack  []uintptr
	values [4]float64
}

// Build returns the ledger's memory as a profile. It holds each shard of the
// live set locked only while it copies that shard's figures.
func Build() (*profile.Profile, error) {
	rate := tracker.StackRate()
	aggs := map[sampleKey]*aggregate{}
	get := func(k sampleKey, stack []uintptr) *aggregate {
		a := aggs[k]
		if a == nil {
			a = &aggregate{stack: stack}
			aggs[k] = a
		}
		return a
	}
	tracker.LiveRecords(func(r *tracker.Record) bool {
		stack := r.Stack()
		if stack == nil && rate != 0 {
			return true // not sampled: the sampled records stand for it
		}
		w, objs := float64(r.Bytes()), 1.0
		if stack != nil {
			w = stacks.SampleWeight(r.Bytes(), r.StackRate())
			if r.Bytes() > 0 {
				objs = w / float64(r.Bytes())
			}
		}
		a := get(sampleKey{r.Kind(), r.Device(), r.Tag(), r.Dropped(), stackString(stack)}, stack)
		a.values[inuseSpace] += w
		a.values[inuseObjects] += objs
		return true
	})
	for _, s := range sites.Totals() {
		a := get(sampleKey{s.Kind, s.Device, s.Tag, false, stackString(s.Stack)}, s.Stack)
		a.values[allocSpace] += s.Bytes
		a.values[allocObjects] += s.Count
	}
	if rate == 0 {
		// No stacks: the exact counters give allocated-since-start.
		for _, s := range tracker.AllStats() {
			if s.AllocatedCount == 0 {
				continue
			}
			a := get(sampleKey{s.Kind, s.Device, s.Tag, false, ""}, nil)
			a.values[allocSpace] += float64(s.AllocatedBytes)
			a.values[allocObjects] += float64(s.AllocatedCount)
		}
	}

	b := newBuilder(rate)
	for k, a := range aggs {
		// Records that were live before the site totals started, or whose
		// site was not totalled, still count as allocated.
		a.values[allocSpace] = max(a.values[allocSpace], a.values[inuseSpace])
		a.values[allocObjects] = max(a.values[allocObjects], a.values[inuseObjects])
		b.add(k, a)
	}
	for _, c := range tracker.CachedStats() {
		b.addCached(c)
	}
	if err := b.p.CheckValid(); err != nil {
		return nil, fmt.Errorf("memprofile: build: %w", err)
	}
	return b.p, nil
}

// Write writes the profile in pprof's gzipped protocol buffer format.
func Write(w io.Writer) error {
	p, err := Build()
	if err != nil {
		return err
	}
	if err := p.Write(w); err != nil {
		return fmt.Errorf("memprofile: write: %w", err)
	}
	return nil
}

// WriteFile writes the profile to a file, as Write does.
func WriteFile(name string) (err error) {
	f, err := os.Create(name)
	if err != nil {
		return fmt.Errorf("memprofile: %w", err)
	}
	defer func() {
		if cerr := f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("memprofile: %w", cerr)
		}
	}()
	return Write(f)
}

// stackString views a stack's PCs as a string, for map keys, without
// copying: the ledger never changes a stack once captured, and the string
// keeps the stack's array alive.
func stackString(stack []uintptr) string {
	if len(stack) == 0 {
		return ""
	}
	return unsafe.String((*byte)(unsafe.Pointer(&stack[0])), len(stack)*int(unsafe.Sizeof(stack[0])))
}

// locKey names a location: one frame of a stack.
type locKey struct {
	pc   uintptr
	fn   string
	file string
	line int
}

// builder turns aggregates into a profile, sharing locations and functions.
type builder struct {
	p       *profile.Profile
	mapping *profile.Mapping
	locs    map[locKey]*profile.Location
	funcs   map[[2]string]*profile.Function
	nostack map[[2]string]*profile.Location
}

func newBuilder(rate int64) *builder {
	exe, _ := os.Executable()
	m := &profile.Mapping{
		ID: 1, Start: 0, Limit: ^uint64(0), File: exe,
		HasFunctions: true, HasFilenames: true, HasLineNumbers: true, HasInlineFrames: true,
	}
	p := &profile.Profile{
		SampleType: []*profile.ValueType{
			{Type: "alloc_objects", Unit: "count"},
			{Type: "alloc_space", Unit: "bytes"},
			{Type: "inuse_objects", Unit: "count"},
			{Type: "inuse_space", Unit: "bytes"},
		},
		DefaultSampleType: "inuse_space",
		PeriodType:        &profile.ValueType{Type: "space", Unit: "bytes"},
		Period:            max(rate, 1),
		TimeNanos:         time.Now().UnixNano(),
		Mapping:           []*profile.Mapping{m},
		Comments:          []string{"membridge native and device memory; stack rate " + strconv.FormatInt(rate, 10)},
	}
	return &builder{
		p: p, mapping: m,
		locs:    map[locKey]*profile.Location{},
		funcs:   map[[2]string]*profile.Function{},
		nostack: map[[2]string]*profile.Location{},
	}
}

func (b *builder) function(name, file string) *profile.Function {
	k := [2]string{name, file}
	f := b.funcs[k]
	if f == nil {
		f = &profile.Function{ID: uint64(len(b.p.Function) + 1), Name: name, SystemName: name, Filename: file}
		b.funcs[k] = f
		b.p.Function = append(b.p.Function, f)
	}
	return f
}

func (b *builder) newLocation(addr uint64, lines []profile.Line) *profile.Location {
	l := &profile.Location{ID: uint64(len(b.p.Location) + 1), Mapping: b.mapping, Address: addr, Line: lines}
	b.p.Location = append(b.p.Location, l)
	return l
}

// location returns the location of one frame.
func (b *builder) location(f runtime.Frame) *profile.Location {
	k := locKey{f.PC, f.Function, f.File, f.Line}
	if l := b.locs[k]; l != nil {
		return l
	}
	l := b.newLocation(uint64(f.PC), []profile.Line{{Function: b.function(f.Function, f.File), Line: int64(f.Line)}})
	b.locs[k] = l
	return l
}

// userLocations returns a stack's locations, one per frame, from the user's
// call into membridge outwards. The stack is resolved whole, as
// stacks.Frames does, because a frame-pointer stack holds one PC per
// physical frame and only the whole stack says which callers a PC's inlined
// calls belong to. The leading frames inside membridge's own packages are
// left out (stacks.UserFrames), as the text reports leave them out, so
// pprof's flat bytes land on the user's function rather than on the owner's
// allocation path that every sample shares.
func (b *builder) userLocations(stack []uintptr) []*profile.Location {
	var locs []*profile.Location
	for _, f := range stacks.UserFrames(stacks.Frames(stack)) {
		if f.Function == "" && f.File == "" {
			continue
		}
		locs = append(locs, b.location(f))
	}
	return locs
}

func deviceLabel(d int) string {
	if d < 0 {
		return "host"
	}
	return strconv.Itoa(d)
}

func (b *builder) add(k sampleKey, a *aggregate) {
	s := &profile.Sample{
		Value: make([]int64, 4),
		Label: map[string][]string{
			"kind":   {k.kind.String()},
			"tag":    {k.tag},
			"device": {deviceLabel(k.device)},
		},
	}
	if k.dropped {
		s.Label["dropped"] = []string{"true"}
	}
	for i, v := range a.values {
		s.Value[i] = int64(v + 0.5)
	}
	if len(a.stack) == 0 {
		name := fmt.Sprintf("%s %q (no stack)", k.kind, k.tag)
		nk := [2]string{name, deviceLabel(k.device)}
		l := b.nostack[nk]
		if l == nil {
			l = b.newLocation(0, []profile.Line{{Function: b.function(name, "")}})
			b.nostack[nk] = l
		}
		s.Location = []*profile.Location{l}
	} else {
		s.Location = b.userLocations(a.stack)
	}
	b.p.Sample = append(b.p.Sample, s)
}

// cachedFunction names the frame of the sample that holds what the
// allocators keep for reuse of kind on device (tracker.CachedStats), such
// as "membridge: cached (c-heap, host)".
func cachedFunction(kind tracker.Kind, device int) string {
	return fmt.Sprintf("membridge: cached (%s, %s)", kind, deviceLabel(device))
}

// addCached adds memory an allocator keeps for reuse as a sample of its
// own: in use (inuse_space, with its blocks as inuse_objects), since the
// process holds it, but under one frame of its own (cachedFunction) and
// the label cached=true, never on a user's stack, and not allocated again
// (its allocations were counted when the program made them).
func (b *builder) addCached(c tracker.Cached) {
	name := cachedFunction(c.Kind, c.Device)
	s := &profile.Sample{
		Value:    make([]int64, 4),
		Location: []*profile.Location{b.newLocation(0, []profile.Line{{Function: b.function(name, "")}})},
		Label: map[string][]string{
			"kind":   {c.Kind.String()},
			"device": {deviceLabel(c.Device)},
			"cached": {"true"},
		},
	}
	s.Value[inuseSpace] = c.Bytes
	s.Value[inuseObjects] = c.Blocks
	b.p.Sample = append(b.p.Sample, s)
}
