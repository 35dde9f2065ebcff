// Package sites totals what each allocation site (stack, kind, device,
// tag) has allocated since the totals were turned on, for profiles: the
// ledger tells what is live now, but a profile's "allocated since start"
// needs records that are long gone. It is an observer of the ledger
// (tracker.AddObserver), added while the totals are on.
package sites

import (
	"sync"
	"unsafe"

	"github.com/membridge/membridge/tracker"
	"github.com/membridge/membridge/tracker/stacks"
)

// Only records with a captured stack are totalled, scaled by their sample
// weight as Go's heap profiler does.

// A Total is what one allocation site (stack, kind, device, tag) has
// allocated since Track turned the totals on.
type Total struct {
	Kind   tracker.Kind
	Device int
	Tag    string
	Stack  []uintptr
	// Bytes and Count are scaled estimates: each sampled record stands for
	// stacks.SampleWeight(n, rate) bytes and that weight divided by n allocations.
	Bytes, Count float64
}

type siteKey struct {
	kind   tracker.Kind
	device int32
	tag    string
	stack  string // the stack's PCs as bytes
}

var siteTotals struct {
	shards [16]struct {
		sync.Mutex
		m map[siteKey]*Total
		_ [48]byte
	}
}

var (
	trackMu sync.Mutex
	remove  func() // takes the observer away; nil while the totals are off
)

// Track turns the per-site allocation totals on or off. Turning them off
// keeps the totals gathered so far.
func Track(on bool) {
	trackMu.Lock()
	defer trackMu.Unlock()
	switch {
	case on && remove == nil:
		remove = tracker.AddObserver(observer{})
	case !on && remove != nil:
		remove()
		remove = nil
	}
}

func stackKey(stack []uintptr) string {
	if len(stack) == 0 {
		return ""
	}
	return unsafe.String((*byte)(unsafe.Pointer(&stack[0])), len(stack)*int(unsafe.Sizeof(stack[0])))
}

func countSite(r *tracker.Record) {
	k := siteKey{r.Kind(), int32(r.Device()), r.Tag(), stackKey(r.Stack())}
	var h uint32 = 2166136261
	for _, pc := range r.Stack() {
		h = (h ^ uint32(pc)) * 16777619
	}
	sh := &siteTotals.shards[h%uint32(len(siteTotals.shards))]
	w := stacks.SampleWeight(r.Bytes(), r.StackRate())
	var count float64 = 1
	if r.Bytes() > 0 {
		count = w / float64(r.Bytes())
	}
	sh.Lock()
	t := sh.m[k]
	if t == nil {
		if sh.m == nil {
			sh.m = map[siteKey]*Total{}
		}
		t = &Total{Kind: r.Kind(), Device: r.Device(), Tag: r.Tag(), Stack: r.Stack()}
		sh.m[k] = t
	}
	t.Bytes += w
	t.Count += count
	sh.Unlock()
}

// Totals returns a copy of every site's totals, in no particular order.
func Totals() []Total {
	var out []Total
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

// observer totals each allocation that kept its stack.
type observer struct{}

func (observer) Allocated(r *tracker.Record) {
	if r.Stack() != nil {
		countSite(r)
	}
}
func (observer) Freed(*tracker.Record)         {}
func (observer) HandedOff(*tracker.Record)     {}
func (observer) Dropped(*tracker.Record, bool) {}
func (observer) Failed(*tracker.Record)        {}
func (observer) Retried(*tracker.Record, bool) {}
func (observer) Refused(*tracker.LimitError)   {}
