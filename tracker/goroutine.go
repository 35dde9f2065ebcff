package tracker

import (
	"bytes"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
)

// attribution makes each reservation note its goroutine and that
// goroutine's creator, so the test mode can blame the test whose goroutine
// (or a goroutine it started) made an allocation, even when tests run in
// parallel. It costs a formatted stack per allocation, so only the test
// mode turns it on.
var attribution atomic.Bool

// parents maps a goroutine id to the id of the goroutine that created it,
// for every goroutine that allocated while attribution was on.
var parents sync.Map // uint64 -> uint64

var stackBufs = sync.Pool{New: func() any { b := make([]byte, 8<<10); return &b }}

// goroutineIDs returns the current goroutine's id and its creator's id (0
// when unknown), read from the runtime's own traceback text.
func goroutineIDs() (gid, creator uint64) {
	bp := stackBufs.Get().(*[]byte)
	defer stackBufs.Put(bp)
	for {
		n := runtime.Stack(*bp, false)
		if n < len(*bp) {
			gid, creator = parseGoroutineIDs((*bp)[:n])
			break
		}
		*bp = make([]byte, 2*len(*bp))
	}
	if gid != 0 && creator != 0 {
		parents.Store(gid, creator)
	}
	return gid, creator
}

// parseGoroutineIDs reads "goroutine 18 [running]:" from the first line and
// "created by ... in goroutine 7" from the last lines of a traceback.
func parseGoroutineIDs(tb []byte) (gid, creator uint64) {
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

// currentGoroutineID returns the id of the calling goroutine.
func currentGoroutineID() uint64 {
	var buf [64]byte
	n := runtime.Stack(buf[:], false)
	gid, _ := parseGoroutineIDs(buf[:n])
	return gid
}

// descendsFrom reports whether goroutine gid is g or was started, directly
// or through goroutines that allocated, by g.
func descendsFrom(gid, creator, g uint64) bool {
	if gid == 0 {
		return false
	}
	if gid == g || creator == g {
		return true
	}
	for depth, cur := 0, creator; cur != 0 && depth < 64; depth++ {
		p, ok := parents.Load(cur)
		if !ok {
			return false
		}
		cur = p.(uint64)
		if cur == g {
			return true
		}
	}
	return false
}
