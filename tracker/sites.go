package tracker

import (
	"sync"
	"unsafe"
)

// This file totals allocations per allocation site since the totals were
// turned on, for profiles: the live set tells what is live now, but a
// profile's "allocated since start" needs records that are long gone. Only
// records with a captured stack are totalled, scaled by their sample weight
// as Go's heap profiler does.

// A SiteTotal is what one allocation site (stack, kind, device, tag) has
// allocated since TrackSites was turned on.
type SiteTotal struct {
	Kind   Kind
	Device int
	Tag    string
	Stack  []uintptr
	// Bytes and Count are scaled estimates: each sampled record stands for
	// SampleWeight(n, rate) bytes and that weight divided by n allocations.
	Bytes, Count float64
}

type siteKey struct {
	kind   Kind
	device int32
	tag    string
	stack  string // the stack's PCs as bytes
}

var siteTotals struct {
	shards [16]struct {
		sync.Mutex
		m map[siteKey]*SiteTotal
		_ [48]byte
	}
}

// TrackSites turns the per-site allocation totals on or off. Turning them
// off keeps the totals gathered so far.
func TrackSites(on bool) { setObserving(observeSites, on) }

func stackKey(stack []uintptr) string {
	if len(stack) == 0 {
		return ""
	}
	return unsafe.String((*byte)(unsafe.Pointer(&stack[0])), len(stack)*int(unsafe.Sizeof(stack[0])))
}

func countSite(r *Record) {
	k := siteKey{r.Kind(), int32(r.Device()), r.Tag(), stackKey(r.Stack())}
	var h uint32 = 2166136261
	for _, pc := range r.Stack() {
		h = (h ^ uint32(pc)) * 16777619
	}
	sh := &siteTotals.shards[h%uint32(len(siteTotals.shards))]
	w := SampleWeight(r.bytes, r.StackRate())
	var count float64 = 1
	if r.bytes > 0 {
		count = w / float64(r.bytes)
	}
	sh.Lock()
	t := sh.m[k]
	if t == nil {
		if sh.m == nil {
			sh.m = map[siteKey]*SiteTotal{}
		}
		t = &SiteTotal{Kind: r.Kind(), Device: r.Device(), Tag: r.Tag(), Stack: r.Stack()}
		sh.m[k] = t
	}
	t.Bytes += w
	t.Count += count
	sh.Unlock()
}

// SiteTotals returns a copy of every site's totals, in no particular order.
func SiteTotals() []SiteTotal {
	var out []SiteTotal
	for i := range siteTotals.shards {
		sh := &siteTotals.shards[i]
		sh.Lock()
		for _, t := range sh.m {
			out = append(out, *t)
		}
		sh.Unlock()
	}
	return out
}
