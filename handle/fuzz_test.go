package handle_test

import (
	"encoding/binary"
	"errors"
	"math"
	"runtime"
	"testing"
	"unsafe"

	"github.com/membridge/membridge/handle"
	"github.com/membridge/membridge/handle/internal/notify"
)

// box is what the fuzzed handles hold: each has its own id.
type box struct {
	id int
	_  [24]byte // no tiny-allocator sharing: a dropped box can be collected
}

// modelHandle is the model's view of one handle the fuzz run made.
type modelHandle struct {
	id       int
	v        uintptr // its Pointer
	strong   *handle.Handle
	weak     *handle.Weak[box]
	kept     *box // the value; nil once a weak handle's value was dropped
	released bool
}

// fuzzRun plays ops against the package and the model.
type fuzzRun struct {
	t    *testing.T
	hs   []*modelHandle
	data []byte
}

func (r *fuzzRun) byte() byte {
	if len(r.data) == 0 {
		return 0
	}
	b := r.data[0]
	r.data = r.data[1:]
	return b
}

func (r *fuzzRun) pick() *modelHandle {
	if len(r.hs) == 0 {
		return nil
	}
	return r.hs[int(r.byte())%len(r.hs)]
}

// expect returns the live handle that was given v, the only one a lookup
// of v may find, or nil if a lookup must fail with ErrUnknown.
func (r *fuzzRun) expect(v uintptr) *modelHandle {
	for _, h := range r.hs {
		if h.v == v && !h.released {
			return h
		}
	}
	return nil
}

// checkValue checks what Value (or ValueOf, or the C-side lookup) found
// for v against the model.
func (r *fuzzRun) checkValue(how string, v uintptr, got any, err error) {
	m := r.expect(v)
	switch {
	case m == nil:
		if !errors.Is(err, handle.ErrUnknown) {
			r.t.Fatalf("%s(%#x), no live handle: got %v, %v; want ErrUnknown", how, v, got, err)
		}
	case m.weak != nil && m.kept == nil && errors.Is(err, handle.ErrGone):
	default:
		b, ok := got.(*box)
		if err != nil || !ok || b.id != m.id {
			r.t.Fatalf("%s(%#x), live handle %d: got %v, %v", how, v, m.id, got, err)
		}
	}
}

// checkWeakValue checks WeakValue[box] of v against the model.
func (r *fuzzRun) checkWeakValue(v uintptr, got *box, err error) {
	m := r.expect(v)
	switch {
	case m == nil:
		if !errors.Is(err, handle.ErrUnknown) {
			r.t.Fatalf("WeakValue(%#x), no live handle: got %v, %v; want ErrUnknown", v, got, err)
		}
	case m.strong != nil:
		if !errors.Is(err, handle.ErrWrongType) {
			r.t.Fatalf("WeakValue(%#x) of strong handle %d: got %v, %v; want ErrWrongType", v, m.id, got, err)
		}
	case m.kept == nil && errors.Is(err, handle.ErrGone):
	default:
		if err != nil || got == nil || got.id != m.id {
			r.t.Fatalf("WeakValue(%#x), live handle %d: got %v, %v", v, m.id, got, err)
		}
	}
}

func (r *fuzzRun) release(m *modelHandle, viaCopy bool) {
	var err error
	switch {
	case m.strong != nil && viaCopy:
		c := *m.strong
		err = c.Release()
	case m.strong != nil:
		err = m.strong.Release()
	case viaCopy:
		c := *m.weak
		err = c.Release()
	default:
		err = m.weak.Release()
	}
	if m.released != errors.Is(err, handle.ErrReleased) || (!m.released && err != nil) {
		r.t.Fatalf("Release of handle %d (released before: %v, copy: %v): %v", m.id, m.released, viaCopy, err)
	}
	m.released = true
}

// forged returns a value made up from the input: some near live ones.
func (r *fuzzRun) forged() uintptr {
	switch r.byte() % 6 {
	case 0:
		return 0
	case 1:
		return uintptr(r.byte())
	case 2:
		if m := r.pick(); m != nil {
			return m.v + 1
		}
	case 3:
		if m := r.pick(); m != nil {
			return m.v - 1
		}
	case 4:
		return math.MaxUint64
	}
	var b [8]byte
	for i := range b {
		b[i] = r.byte()
	}
	return uintptr(binary.LittleEndian.Uint64(b[:]))
}

func (r *fuzzRun) step() {
	switch op := r.byte() % 10; op {
	case 0, 1: // New, NewWeak
		m := &modelHandle{id: len(r.hs), kept: &box{id: len(r.hs)}}
		var err error
		if op == 0 {
			m.strong, err = handle.New("handle.fuzz", m.kept)
			if err == nil {
				m.v = uintptr(m.strong.Pointer())
			}
		} else {
			m.weak, err = handle.NewWeak("handle.fuzz", m.kept)
			if err == nil {
				m.v = uintptr(m.weak.Pointer())
			}
		}
		if err != nil {
			r.t.Fatal(err)
		}
		if old := r.expect(m.v); old != nil {
			r.t.Fatalf("New gave %#x, the value of live handle %d", m.v, old.id)
		}
		for _, h := range r.hs {
			if h.v == m.v {
				r.t.Fatalf("New gave %#x, the value of released handle %d", m.v, h.id)
			}
		}
		r.hs = append(r.hs, m)
	case 2, 3: // Release, through the handle or a copy
		if m := r.pick(); m != nil {
			r.release(m, op == 3)
		}
	case 4: // Value from Go
		if m := r.pick(); m != nil {
			got, err := handle.Value(m.strongOrWeakPointer())
			r.checkValue("Value", m.v, got, err)
		}
	case 5: // the C-side lookup
		if m := r.pick(); m != nil {
			got, err := notify.Lookup(m.v)
			r.checkValue("C lookup", m.v, got, err)
		}
	case 6: // WeakValue
		if m := r.pick(); m != nil {
			got, err := handle.WeakValue[box](m.strongOrWeakPointer())
			r.checkWeakValue(m.v, got, err)
		}
	case 7: // Weak.Value
		if m := r.pick(); m != nil && m.weak != nil {
			got, err := m.weak.Value()
			switch {
			case m.released:
				if !errors.Is(err, handle.ErrReleased) {
					r.t.Fatalf("Weak.Value of released handle %d: %v, %v", m.id, got, err)
				}
			case m.kept == nil && errors.Is(err, handle.ErrGone):
			case err != nil || got.id != m.id:
				r.t.Fatalf("Weak.Value of handle %d: %v, %v", m.id, got, err)
			}
		}
	case 8: // a forged value, looked up from Go and from C
		v := r.forged()
		got, err := handle.ValueOf(v)
		r.checkValue("ValueOf", v, got, err)
		got, err = notify.Lookup(v)
		r.checkValue("C lookup", v, got, err)
		b, err := handle.WeakValueOf[box](v)
		r.checkWeakValue(v, b, err)
	case 9: // drop a weak handle's value, and perhaps collect it
		if m := r.pick(); m != nil && m.weak != nil {
			m.kept = nil
			if r.byte()%4 == 0 {
				runtime.GC()
			}
		}
	}
}

// strongOrWeakPointer is the handle's Pointer, as C would hand it back.
func (m *modelHandle) strongOrWeakPointer() unsafe.Pointer {
	if m.strong != nil {
		return m.strong.Pointer()
	}
	return m.weak.Pointer()
}

// FuzzHandleOps plays fuzzer-chosen sequences of New, NewWeak, Release
// (through the handle or a copy) and lookups of live, stale and forged
// values against a model: a lookup finds a value only through the live
// handle that was given it, never a stale or forged one.
func FuzzHandleOps(f *testing.F) {
	f.Add([]byte{0, 4, 2, 0, 0, 0, 4, 0, 5, 0, 3, 1})                      // New, Release, New, stale lookups, copy release
	f.Add([]byte{1, 0, 0, 6, 0, 6, 1, 7, 1, 2, 0, 7, 0, 1, 6, 0, 2, 1})    // weak and strong, WeakValue of each, Weak.Value after Release
	f.Add([]byte{0, 1, 8, 2, 0, 8, 3, 1, 8, 0, 8, 1, 1, 8, 4, 8, 5, 0xff}) // forged: live±1, 0, 1, max, random
	f.Add([]byte{1, 9, 0, 0, 7, 0, 4, 0, 6, 0, 5, 0, 2, 0, 3, 0})          // weak value dropped and collected
	f.Add([]byte{0, 2, 0, 0, 2, 1, 0, 2, 2, 0, 4, 0, 4, 1, 4, 2, 5, 3})    // a slot reused three times
	f.Fuzz(func(t *testing.T, data []byte) {
		r := &fuzzRun{t: t, data: data}
		for len(r.data) > 0 && len(r.hs) < 64 {
			r.step()
		}
		for _, m := range r.hs {
			if !m.released {
				r.release(m, false)
			}
		}
	})
}
