// Package goroutines tells which goroutine made an allocation and which
// goroutine started it, from the runtime's own traceback text: the test
// mode (tracker/leaktest) blames a leak on the test whose goroutine, or a
// goroutine it started, made the memory, even when tests run in parallel.
package goroutines

import (
	"bytes"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
)

// Attribution makes each reservation note its goroutine and that
// goroutine's creator (IDs), so the test mode can blame the test whose
// goroutine (or a goroutine it started) made an allocation, even when tests
// run in parallel. It costs a formatted stack per allocation, so only the
// test mode turns it on.
var Attribution atomic.Bool

// parents maps a goroutine id to the id of the goroutine that created it,
// for every goroutine that allocated while attribution was on. (A check
// learns the creators of goroutines still running from their tracebacks.)
var parents sync.Map // uint64 -> uint64

var stackBufs = sync.Pool{New: func() any { b := make([]byte, 8<<10); return &b }}

// IDs returns the current goroutine's id and its creator's id (0
// when unknown), read from the runtime's own traceback text.
func IDs() (gid, creator uint64) {
	bp := stackBufs.Get().(*[]byte)
	defer stackBufs.Put(bp)
	for {
		n := runtime.Stack(*bp, false)
		if n < len(*bp) {
			gid, creator = parseIDs((*bp)[:n])
			break
		}
		*bp = make([]byte, 2*len(*bp))
	}
	if gid != 0 && creator != 0 {
		parents.Store(gid, creator)
	}
	return gid, creator
}

// parseIDs reads "goroutine 18 [running]:" from the first line and
// "created by ... in goroutine 7" from the last lines of a traceback.
func parseIDs(tb []byte) (gid, creator uint64) {
	const head = "goroutine "
	if bytes.HasPrefix(tb, []byte(head)) {
		rest := tb[len(head):]
		if i := bytes.IndexByte(rest, ' '); i > 0 {
			gid, _ = strconv.ParseUint(string(rest[:i]), 10, 64)
		}
	}
	const in = " in goroutine "
	if i := bytes.LastIndex(tb, []byte("\ncreated by ")); i >= 0 {
		line := tb[i+1:]
		if j := bytes.IndexByte(line, '\n'); j >= 0 {
			line = line[:j]
		}
		if k := bytes.LastIndex(line, []byte(in)); k >= 0 {
			creator, _ = strconv.ParseUint(string(bytes.TrimSpace(line[k+len(in):])), 10, 64)
		}
	}
	return gid, creator
}

// Current returns the id of the calling goroutine.
func Current() uint64 {
	var buf [64]byte
	n := runtime.Stack(buf[:], false)
	gid, _ := parseIDs(buf[:n])
	return gid
}

// Snapshot is what one look at every goroutine's traceback tells
// the test mode: each live goroutine's creator, and which goroutines are
// tests paused in t.Parallel (they run, and check their own memory, after
// their parent's deferred check).
type Snapshot struct {
	Creator map[uint64]uint64 // each live goroutine's creator
	Paused  map[uint64]bool   // tests paused in t.Parallel
}

// Read takes a Snapshot. It stops the world for as long
// as the runtime takes to format every goroutine's stack.
func Read() *Snapshot {
	buf := make([]byte, 64<<10)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	return parseAll(buf)
}

// parseAll reads runtime.Stack's text for every goroutine: blocks
// that start "goroutine N [status]:", separated by blank lines.
func parseAll(all []byte) *Snapshot {
	s := &Snapshot{Creator: map[uint64]uint64{}, Paused: map[uint64]bool{}}
	for _, tb := range bytes.Split(all, []byte("\n\n")) {
		gid, creator := parseIDs(tb)
		if gid == 0 {
			continue
		}
		if creator != 0 {
			s.Creator[gid] = creator
		}
		if bytes.Contains(tb, []byte("\ntesting.(*T).Parallel(")) {
			s.Paused[gid] = true
		}
	}
	return s
}

// Owns reports whether memory made on goroutine gid, which creator
// started, belongs to the test running on goroutine g: gid is g, or g
// started it, directly or through goroutines that allocated (parents) or
// are still running (the snapshot), and no goroutine on the way is a
// subtest paused in t.Parallel, whose memory is its own to check. snap
// takes the snapshot; owns calls it only for a chain that reaches g or
// that passes a goroutine parents does not know.
func Owns(gid, creator, g uint64, snap func() *Snapshot) bool {
	if gid == 0 {
		return false
	}
	var path [64]uint64 // the goroutines from gid up to, not including, g
	n := 0
	for cur, next := gid, creator; cur != g; cur = next {
		if cur == 0 || cur == MainGoroutine || n == len(path) {
			return false
		}
		path[n] = cur
		n++
		if n > 1 { // the record named gid's creator; the others are looked up
			if p, ok := parents.Load(cur); ok {
				next = p.(uint64)
			} else {
				next = snap().Creator[cur]
			}
		}
	}
	for _, id := range path[:n] {
		if snap().Paused[id] {
			return false
		}
	}
	return true
}

// MainGoroutine is the id of the goroutine that runs main (and init): no
// goroutine created it.
const MainGoroutine = 1
