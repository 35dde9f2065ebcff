package handle

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// setNextGen sets the generation the next New on the slot of h's value
// will use, once h is released: the hook that stands in for 2^32 real
// reuses of a slot.
func setNextGen(t *testing.T, h *Handle, gen uint32) {
	t.Helper()
	idx, _, _ := decode(h.v)
	s := slots.at(idx)
	require.NoError(t, h.Release())
	slots.mu.Lock()
	defer slots.mu.Unlock()
	// Put the slot on top of the free stack, where New takes it.
	top := len(slots.free) - 1
	for i, f := range slots.free {
		if f == idx {
			slots.free[i], slots.free[top] = slots.free[top], slots.free[i]
		}
	}
	require.Equal(t, idx, slots.free[top], "the released slot is not free")
	require.Zero(t, s.word.Load()&(wordLive|wordRetired))
	s.word.Store(uint64(gen))
}

// TestGenerationWrapRetiresSlot: a slot's last generation, once released,
// retires the slot instead of wrapping to generations whose values C may
// still hold; each value of the slot stays unknown.
func TestGenerationWrapRetiresSlot(t *testing.T) {
	h, err := New("handle.wrap", "first")
	require.NoError(t, err)
	idx, _, _ := decode(h.v)
	setNextGen(t, h, lastGen-1)

	var seen []*Handle
	for i, want := range []uint32{lastGen - 1, lastGen} {
		h, err := New("handle.wrap", i)
		require.NoError(t, err)
		gotIdx, gen, _ := decode(h.v)
		require.Equal(t, idx, gotIdx, "New did not reuse the slot")
		require.Equal(t, want, gen)
		v, err := Value(h.Pointer())
		require.NoError(t, err)
		require.Equal(t, i, v)
		seen = append(seen, h)
		require.NoError(t, h.Release())
	}
	s := slots.at(idx)
	assert.Equal(t, wordRetired, s.word.Load(), "the slot was not retired after its last generation")

	// Generation 0 of the slot (the first handle) and every later one stay
	// unknown, and the slot is never handed out again.
	stale := append(seen, h)
	var live []*Handle
	for range 4 {
		n, err := New("handle.wrap", "later")
		require.NoError(t, err)
		nIdx, _, _ := decode(n.v)
		assert.NotEqual(t, idx, nIdx, "a retired slot was reused")
		live = append(live, n)
	}
	for _, old := range stale {
		_, err := Value(old.Pointer())
		assert.ErrorIs(t, err, ErrUnknown, "stale %#x", old.v)
		assert.ErrorIs(t, old.Release(), ErrReleased)
	}
	for _, n := range live {
		require.NoError(t, n.Release())
	}
}

// TestGenerationWrapBySafetyNet: the safety net's reclaim of a dropped
// handle ends the slot's generation through the same claim, so it retires
// the slot too.
func TestGenerationWrapBySafetyNet(t *testing.T) {
	h, err := New("handle.wrap", "first")
	require.NoError(t, err)
	idx, _, _ := decode(h.v)
	setNextGen(t, h, lastGen)
	h, err = New("handle.wrap", "last")
	require.NoError(t, err)
	_, gen, _ := decode(h.v)
	require.Equal(t, lastGen, gen)
	s := slots.at(idx)
	s.Reclaim(h.rec) // what the net does; the record itself stays live here
	assert.Equal(t, wordRetired, s.word.Load())
	_, err = Value(h.Pointer())
	assert.ErrorIs(t, err, ErrUnknown)
	assert.ErrorIs(t, h.Release(), ErrReleased, "Release after the net ended the slot")
	h.rec.Release() // end the record the test bypassed
}

// TestTableFull: when every slot is taken, New fails with an error, and
// the ledger gives the reservation back.
func TestTableFull(t *testing.T) {
	slots.mu.Lock()
	made, free, prev := slots.made, len(slots.free), maxSlots
	maxSlots = made
	slots.mu.Unlock()
	defer func() {
		slots.mu.Lock()
		maxSlots = prev
		slots.mu.Unlock()
	}()
	var hs []*Handle
	for range free {
		h, err := New("handle.full", 1)
		require.NoError(t, err)
		hs = append(hs, h)
	}
	_, err := New("handle.full", 1)
	require.ErrorIs(t, err, errTableFull)
	assert.Contains(t, err.Error(), `handle: new (tag "handle.full")`)
	for _, h := range hs {
		require.NoError(t, h.Release())
	}
}
