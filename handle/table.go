package handle

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"unsafe"

	pointer "github.com/mattn/go-pointer"

	"github.com/membridge/membridge/tracker"
)

// The value C holds for a handle (its Pointer) is not an address but a
// slot index and a generation, packed as
//
//	bit 63: 1 | bits 32..62: slot index | bits 0..31: generation
//
// A slot is reused for a later handle only with the next generation, and a
// slot whose generation would wrap is retired, never reused. So a value is
// issued to one handle only, ever: after Release, a lookup of it finds the
// slot at another generation (or free) and fails with ErrUnknown, whatever
// was made since. The generation sits in the low bits so that a valid
// value plus or minus one names the same slot at another generation, not a
// neighbouring live slot.
//
// Bit 63 keeps the value outside every range the Go runtime treats as its
// own memory (heap arenas, stacks, data): on every 64-bit platform Go
// supports the heap lies below 2^48. The garbage collector, stack copying
// and checkptr therefore ignore it in an unsafe.Pointer, as they ignore C
// addresses. Slot indexes stay below 2^30, so no value equals the runtime's
// 0xdeaddeaddeaddead poison, which it would report as a bad pointer.
const (
	valueTag  = uint64(1) << 63
	genBits   = 32
	indexMask = uint64(1)<<31 - 1

	// A slot's word: its generation in the low 32 bits, plus whether the
	// slot holds a live handle or is retired.
	wordLive    = uint64(1) << 32
	wordRetired = uint64(1) << 33

	chunkBits = 10
	chunkSize = 1 << chunkBits
)

// maxSlots bounds the table (a test shrinks it to reach the bound).
var maxSlots uint32 = 1 << 30

// lastGen is a slot's last generation: ending it retires the slot.
const lastGen = uint32(1<<genBits - 1)

// errTableFull: every slot is live or retired.
var errTableFull = errors.New("table of live handles full")

func encode(idx, gen uint32) uintptr {
	return uintptr(valueTag | uint64(idx)<<genBits | uint64(gen))
}

func decode(v uintptr) (idx, gen uint32, ok bool) {
	u := uint64(v)
	if u&valueTag == 0 {
		return 0, 0, false
	}
	return uint32(u >> genBits & indexMask), uint32(u), true
}

// asPointer returns v as the void* C is given. v is an encoded handle
// value, never an address: see the layout above for why the runtime
// ignores it. The conversion goes through memory because go vet flags
// unsafe.Pointer(uintptr) conversions, not knowing v is no address.
func asPointer(v uintptr) unsafe.Pointer {
	return *(*unsafe.Pointer)(unsafe.Pointer(&v))
}

// A slot is one entry of the table. key is the go-pointer key under which
// the handle's value is stored, rec its ledger record. Both are written
// before word says live, and read after word says so; word is checked
// again after the read, since the slot may be released and refilled
// meanwhile.
type slot struct {
	idx  uint32 // its index, set before the chunk is published
	word atomic.Uint64
	key  atomic.Pointer[byte]
	rec  atomic.Pointer[tracker.Record]
}

type chunk [chunkSize]slot

// table holds the slots: chunks that never move or go away, so lookups
// read them without a lock, and a stack of free slot indexes under mu.
type table struct {
	chunks atomic.Pointer[[]*chunk]
	mu     sync.Mutex
	free   []uint32
	made   uint32
}

var slots table

// at returns slot idx, or nil if the table has no such slot.
func (t *table) at(idx uint32) *slot {
	cs := t.chunks.Load()
	if cs == nil || int(idx>>chunkBits) >= len(*cs) {
		return nil
	}
	return &(*cs)[idx>>chunkBits][idx&(chunkSize-1)]
}

// take returns a free slot, growing the table if none is free.
func (t *table) take() (uint32, *slot, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if n := len(t.free); n > 0 {
		idx := t.free[n-1]
		t.free = t.free[:n-1]
		return idx, t.at(idx), nil
	}
	if t.made >= maxSlots {
		return 0, nil, fmt.Errorf("%w (%d slots)", errTableFull, t.made)
	}
	idx := t.made
	if idx&(chunkSize-1) == 0 { // the first slot of a new chunk
		var cs []*chunk
		if old := t.chunks.Load(); old != nil {
			cs = append(cs, *old...)
		}
		c := new(chunk)
		for i := range c {
			c[i].idx = idx + uint32(i)
		}
		cs = append(cs, c)
		t.chunks.Store(&cs)
	}
	t.made++
	return idx, t.at(idx), nil
}

// fill makes free slot s live with key and rec, and returns its generation.
func (s *slot) fill(key unsafe.Pointer, rec *tracker.Record) uint32 {
	gen := uint32(s.word.Load())
	s.key.Store((*byte)(key))
	s.rec.Store(rec)
	s.word.Store(wordLive | uint64(gen))
	return gen
}

// claim ends generation gen of slot s: exactly one caller for a live
// generation gets true, and lookups of it fail from then on. The claimer
// then calls recycle.
func (s *slot) claim(gen uint32) bool {
	next := uint64(gen) + 1
	if gen == lastGen {
		next = wordRetired
	}
	return s.word.CompareAndSwap(wordLive|uint64(gen), next)
}

// recycle frees the go-pointer key of a claimed slot and puts the slot
// back on the free stack, unless claim retired it.
func (t *table) recycle(s *slot) {
	pointer.Unref(unsafe.Pointer(s.key.Load()))
	if s.word.Load()&wordRetired != 0 {
		return
	}
	t.mu.Lock()
	t.free = append(t.free, s.idx)
	t.mu.Unlock()
}

// unused gives back slot idx, taken for a handle the ledger refused: it was
// never filled, so its generation is unchanged.
func (t *table) unused(idx uint32) {
	t.mu.Lock()
	t.free = append(t.free, idx)
	t.mu.Unlock()
}

// lookup returns what go-pointer stores for the live handle whose value is
// v, or nil if v is not one.
func (t *table) lookup(v uintptr) any {
	idx, gen, ok := decode(v)
	if !ok {
		return nil
	}
	s := t.at(idx)
	if s == nil {
		return nil
	}
	w := wordLive | uint64(gen)
	if s.word.Load() != w {
		return nil
	}
	stored := pointer.Restore(unsafe.Pointer(s.key.Load()))
	// Released (and the key perhaps freed and handed to another handle by
	// malloc) since the first check: what was read may be another's.
	if s.word.Load() != w {
		return nil
	}
	return stored
}

// Reclaim is the safety net's for a handle dropped without Release: it
// ends the slot's generation if that is still the one of r.
func (s *slot) Reclaim(r *tracker.Record) {
	w := s.word.Load()
	if w&wordLive == 0 || s.rec.Load() != r {
		return
	}
	if s.claim(uint32(w)) {
		slots.recycle(s)
	}
}
