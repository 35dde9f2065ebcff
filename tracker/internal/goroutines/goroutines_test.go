package goroutines

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestParseGoroutines(t *testing.T) {
	dump := []byte(`goroutine 7 [running]:
github.com/membridge/membridge/tracker.readGoroutines()
	/src/tracker/goroutine.go:80 +0x45
created by testing.(*T).Run in goroutine 1
	/go/src/testing/testing.go:2101 +0x4c5

goroutine 1 [chan receive]:
testing.(*T).Run(0xc000003340, {0x5a0b2e, 0x10}, 0x5b2f10)
	/go/src/testing/testing.go:2102 +0x4e5
main.main()
	_testmain.go:45 +0x9b

goroutine 9 [chan receive]:
testing.(*T).Parallel(0xc000102000)
	/go/src/testing/testing.go:1709 +0x1d8
example.TestP.func1(0xc000102000)
	/src/p_test.go:12 +0x1b
testing.tRunner(0xc000102000, 0x5b2f20)
	/go/src/testing/testing.go:2036 +0xea
created by testing.(*T).Run in goroutine 7
	/go/src/testing/testing.go:2101 +0x4c5

goroutine 12 [select]:
example.worker()
	/src/p_test.go:30 +0x1b
created by example.TestP in goroutine 7
	/src/p_test.go:20 +0x2e
`)
	s := parseAll(dump)
	assert.Equal(t, map[uint64]uint64{7: 1, 9: 7, 12: 7}, s.Creator)
	assert.Equal(t, map[uint64]bool{9: true}, s.Paused)
	assert.Empty(t, parseAll(nil).Creator)
}

func TestOwns(t *testing.T) {
	// test T (created by 1) started T+1, which started T+2 and is still
	// running; T+2 started T+3. T+4 is a subtest of T paused in
	// t.Parallel; T+5 a goroutine it started before pausing. (Ids far above
	// the process's own goroutines, which parents may know.)
	const T = 1 << 40
	snap := &Snapshot{
		Creator: map[uint64]uint64{T: 1, T + 1: T, T + 2: T + 1, T + 4: T, T + 5: T + 4},
		Paused:  map[uint64]bool{T + 4: true},
	}
	looks := 0
	get := func() *Snapshot { looks++; return snap }
	for _, tc := range []struct {
		gid, creator uint64
		want         bool
	}{
		{T, 1, true},          // the test itself
		{T + 1, T, true},      // a goroutine it started
		{T + 3, T + 2, true},  // through running goroutines that never allocated
		{T + 4, T, false},     // a paused subtest's own
		{T + 5, T + 4, false}, // its goroutine's
		{T + 9, 1, false},     // another test's
		{0, 0, false},         // not attributed
	} {
		assert.Equal(t, tc.want, Owns(tc.gid, tc.creator, T, get), "goroutine %d created by %d", tc.gid, tc.creator)
	}
	assert.Positive(t, looks)
}

// A chain that cannot reach the test (memory of package init, on the main
// goroutine; another test's, through goroutines that allocated) costs no
// look at every goroutine.
func TestOwnsTakesNoSnapshotForChainsThatCannotReachTheTest(t *testing.T) {
	const T = 1 << 41
	parents.Store(uint64(T+1), uint64(MainGoroutine)) // another top-level test, which allocated
	defer parents.Delete(uint64(T + 1))
	none := func() *Snapshot { t.Fatal("took a snapshot"); return nil }
	assert.False(t, Owns(MainGoroutine, 0, T, none))
	assert.False(t, Owns(T+1, MainGoroutine, T, none))
	assert.False(t, Owns(T+2, T+1, T, none))
}
