package cuda

import (
	"fmt"
	"math/bits"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/membridge/membridge/internal/gctick"
	"github.com/membridge/membridge/tracker"
)

// This file holds the device memory cache: every Context keeps the device
// memory its program freed, in blocks of a few sizes, and hands it out
// again without calling the driver, as PyTorch's caching allocator and
// RMM's pools do. A device alloc+free pair on one stream then costs no
// driver call once the first has been made.
//
// Sizes. A request of n bytes is served by a block of class(n) bytes:
// multiples of 512 bytes up to 1 MiB, then eight classes per doubling (a
// block is at most 12.5% larger than its request). Blocks are neither split
// nor merged: a class serves only its own requests. Requests above 64 MiB
// (or above the cache's limit) go straight to the driver: without splitting
// a cached block of that size serves few requests, its rounding would hold
// up to 8 MiB for nothing, and the driver call is small next to the work
// on that much memory.
//
// Streams. A block belongs to the stream it was freed on: the stream of
// its buffer (Stream.Alloc), or the default stream (Context.Alloc). Work
// queued on that stream after the free runs after the work that used the
// block, so the same stream reuses it at once. Another stream reuses it
// only once an event recorded on the block's stream after its free has
// completed: the cache records one event per stream, covering every block
// freed on it so far, when another stream first wants one of them, and
// queries it (cuEventRecord, cuEventQuery); it never waits for the device
// on an allocation's path. A buffer's uses on other streams are waited for
// at its free in stream order (cuStreamWaitEvent on its stream), as a
// stream-ordered free does.
//
// Accounting. A cached block has no record in the ledger: the record is
// released at Free as before, so limits count only live bytes and no leak
// report names cached memory. The cache is a tracker.AllocatorCache: the
// ledger shows its bytes per kind and device (tracker.CachedStats), and
// trims it first when the device runs out of memory.
//
// Bounds. The cache holds at most its limit (CacheLimit, an Option of
// Open; DefaultCacheLimit); a freed block that does not fit goes to the
// driver. After every garbage collection the blocks cached before the
// previous one go back to the driver, where that needs no wait (their
// stream's event has completed); ShortOfMemory (tracker.Trim, or the
// ledger's relief when the device is full), Context.EmptyCache and
// Context.Close give back everything, waiting for the events. Closing a
// stream gives back the blocks freed on it.
//
// Checking. While tracker.Checking() is on (as in tests) the cache is off:
// every request goes to the driver with its exact size and every free
// gives the memory back at once, so the stand-in driver's and
// AddressSanitizer's use-after-free and bounds checks still see every
// misuse.

// DefaultCacheLimit is how many bytes of freed device memory a Context
// keeps for reuse when Open is given no CacheLimit.
const DefaultCacheLimit = 1 << 30

const (
	cacheSmallStep = 512      // the class step up to cacheSmallMax
	cacheSmallMax  = 1 << 20  // beyond it, eight classes per doubling
	cacheLargest   = 64 << 20 // larger requests go to the driver
)

// CacheLimit sets how many bytes of freed device memory the Context keeps
// for reuse (see Context.EmptyCache). 0 (or less) turns the cache off:
// every free gives the memory back to the driver at once.
func CacheLimit(bytes int64) Option { return cacheLimit(bytes) }

type cacheLimit int64

func (l cacheLimit) apply(o contextOptions) contextOptions {
	o.cacheLimit = max(int64(l), 0)
	return o
}

// cacheClass returns the size of the block that serves n bytes (n > 0).
func cacheClass(n int) int {
	if n <= cacheSmallMax {
		return (n + cacheSmallStep - 1) &^ (cacheSmallStep - 1)
	}
	step := 1 << (bits.Len(uint(n-1)) - 1) / 8
	return (n + step - 1) &^ (step - 1)
}

// cacheClasses is how many classes there are: those up to cacheSmallMax,
// then eight per doubling up to cacheLargest.
const cacheClasses = cacheSmallMax/cacheSmallStep + 8*(26-20)

// classIndex numbers the class of size (a cacheClass), from 0: the bins
// are an array, since a map's hashing costs as much as the rest of a hit.
func classIndex(size int) int {
	if size <= cacheSmallMax {
		return size/cacheSmallStep - 1
	}
	k := bits.Len(uint(size-1)) - 1 // size is in (2^k, 2^(k+1)]
	step := 1 << k / 8
	return cacheSmallMax/cacheSmallStep + (k-20)*8 + (size-1<<k)/step - 1
}

// A cachedBlock is freed device memory held for reuse.
type cachedBlock struct {
	ptr   DevicePtr
	seq   uint64 // its stream's free count once it was freed
	epoch uint64 // cacheEpoch when it was cached
}

// streamBlocks are a bin's blocks freed on one stream, last freed last.
type streamBlocks struct {
	size   int // their class
	s      *Stream
	mark   *streamMark
	blocks []cachedBlock
}

// A streamMark is what the cache knows of one stream's progress: how many
// blocks were freed on it, and an event recorded on it after the first
// recorded of them.
type streamMark struct {
	freed    uint64
	ev       uintptr // 0 until another stream first wants a block
	recorded uint64  // freed when ev was last recorded
	done     bool    // ev has completed since
}

// A deviceCache is a Context's cache of freed device memory.
type deviceCache struct {
	c     *Context
	limit int64 // bytes; 0: off

	mu    sync.Mutex
	bins  [2][cacheClasses][]streamBlocks // by allocKind and classIndex
	marks map[*Stream]*streamMark

	held   atomic.Int64    // bytes held and reserved, against limit
	bytes  [2]atomic.Int64 // held by allocKind (allocPlain, allocPool)
	blocks [2]atomic.Int64

	unregister func()
}

// cacheEpoch counts garbage collections; open caches are trimmed at each.
var cacheEpoch atomic.Uint64

// openCaches are the caches of open Contexts, for the trim after a
// collection.
var openCaches struct {
	sync.Mutex
	m map[*deviceCache]struct{}
}

func init() { gctick.Every(trimIdleCaches) }

func newDeviceCache(c *Context, limit int64) *deviceCache {
	d := &deviceCache{c: c, limit: limit, marks: map[*Stream]*streamMark{}}
	d.unregister = tracker.RegisterAllocatorCache("cuda device "+strconv.Itoa(c.dev.Ordinal), d)
	openCaches.Lock()
	if openCaches.m == nil {
		openCaches.m = map[*deviceCache]struct{}{}
	}
	openCaches.m[d] = struct{}{}
	openCaches.Unlock()
	return d
}

// class returns the block size for n bytes, or false when n bypasses the
// cache (off, checking, too large).
func (d *deviceCache) class(n int) (int, bool) {
	if n <= 0 || n > cacheLargest || int64(n) > d.limit || tracker.Checking() {
		return 0, false
	}
	return cacheClass(n), true
}

// take returns a cached block of kind and size that stream s (the
// context's default stream for plain allocations) may use now. The caller
// is in the context.
func (d *deviceCache) take(kind allocKind, size int, s *Stream) (DevicePtr, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	lists := d.bins[kind][classIndex(size)]
	for i := range lists {
		l := &lists[i]
		if l.s == s && len(l.blocks) > 0 {
			b := l.blocks[len(l.blocks)-1]
			l.blocks = l.blocks[:len(l.blocks)-1]
			d.taken(kind, size)
			return b.ptr, true
		}
	}
	for i := range lists {
		l := &lists[i]
		if l.s == s || len(l.blocks) == 0 || !d.passed(l, l.blocks[0].seq, true) {
			continue
		}
		b := l.blocks[0]
		l.blocks = append(l.blocks[:0], l.blocks[1:]...)
		d.taken(kind, size)
		return b.ptr, true
	}
	return 0, false
}

func (d *deviceCache) taken(kind allocKind, size int) {
	d.unreserve(kind, size)
	d.blocks[kind].Add(-1)
}

// passed reports whether the work l's stream had queued when its block
// number seq was freed has completed: an event recorded on the stream
// since then has. Without one, it records one if record says so. The
// caller holds d.mu and is in the context.
func (d *deviceCache) passed(l *streamBlocks, seq uint64, record bool) bool {
	m := l.mark
	if m.recorded < seq {
		if !record || d.recordMark(l.s, m) != nil {
			return false
		}
	}
	if !m.done {
		done, err := drvEventQuery(d.c.h, m.ev)
		m.done = err == nil && done
	}
	return m.done
}

// recordMark records m's event at the current end of stream s, covering
// every block freed on s so far. The caller holds d.mu.
func (d *deviceCache) recordMark(s *Stream, m *streamMark) error {
	if m.ev == 0 {
		ev, err := drvEventCreate(d.c.h)
		if err != nil {
			return err
		}
		m.ev = ev
	}
	if err := drvEventRecord(d.c.h, m.ev, s.h); err != nil {
		return err
	}
	m.recorded, m.done = m.freed, false
	return nil
}

// reserve counts size bytes of kind as held if they fit under the limit;
// put then adds the block (or unreserve gives the bytes back).
func (d *deviceCache) reserve(kind allocKind, size int) bool {
	for {
		held := d.held.Load()
		if held+int64(size) > d.limit {
			return false
		}
		if d.held.CompareAndSwap(held, held+int64(size)) {
			d.bytes[kind].Add(int64(size))
			return true
		}
	}
}

func (d *deviceCache) unreserve(kind allocKind, size int) {
	d.bytes[kind].Add(-int64(size))
	d.held.Add(-int64(size))
}

// put caches a block whose bytes reserve counted, freed on stream s (nil
// or closed: the default stream). The caller is in the context.
func (d *deviceCache) put(kind allocKind, size int, p DevicePtr, s *Stream) {
	if s == nil || s.closed {
		s = d.c.null
	}
	d.mu.Lock()
	bin := &d.bins[kind][classIndex(size)]
	lists := *bin
	var l *streamBlocks
	for i := range lists {
		if lists[i].s == s {
			l = &lists[i]
			break
		}
	}
	if l == nil {
		m := d.marks[s]
		if m == nil {
			m = new(streamMark)
			d.marks[s] = m
		}
		lists = append(lists, streamBlocks{size: size, s: s, mark: m})
		*bin = lists
		l = &lists[len(lists)-1]
	}
	l.mark.freed++
	l.blocks = append(l.blocks, cachedBlock{ptr: p, seq: l.mark.freed, epoch: cacheEpoch.Load()})
	d.blocks[kind].Add(1)
	d.mu.Unlock()
}

// eachList calls f with every list of blocks that holds any. The caller
// holds d.mu.
func (d *deviceCache) eachList(f func(kind allocKind, l *streamBlocks)) {
	for kind := range d.bins {
		for ci := range d.bins[kind] {
			lists := d.bins[kind][ci]
			for i := range lists {
				if len(lists[i].blocks) > 0 {
					f(allocKind(kind), &lists[i])
				}
			}
		}
	}
}

// A releasedBlock is a block taken out of the cache to go to the driver.
type releasedBlock struct {
	kind allocKind
	size int
	ptr  DevicePtr
	s    *Stream
}

// release gives cached blocks back to the driver: those of stream only
// (nil: every stream) cached at or before epoch maxEpoch. wait says whether
// to wait for their streams' events; without it, plain blocks whose event
// has not completed stay (a stream-ordered free needs no wait). The
// caller is in the context (exclusively for a stream's blocks at its
// Close).
func (d *deviceCache) release(stream *Stream, maxEpoch uint64, wait bool) (freed int64, err error) {
	var out []releasedBlock
	waits := map[uintptr]bool{}
	d.mu.Lock()
	d.eachList(func(kind allocKind, l *streamBlocks) {
		if stream != nil && l.s != stream {
			return
		}
		keep := l.blocks[:0]
		for _, b := range l.blocks {
			ok := b.epoch <= maxEpoch
			if ok && kind == allocPlain {
				if wait {
					if l.mark.recorded < b.seq {
						if e := d.recordMark(l.s, l.mark); e != nil {
							err = e
							ok = false
						}
					}
					if ok && !l.mark.done {
						waits[l.mark.ev] = true
					}
				} else {
					ok = d.passed(l, b.seq, true)
				}
			}
			if !ok {
				keep = append(keep, b)
				continue
			}
			out = append(out, releasedBlock{kind: kind, size: l.size, ptr: b.ptr, s: l.s})
		}
		clear(l.blocks[len(keep):])
		l.blocks = keep
	})
	d.mu.Unlock()
	for ev := range waits {
		if e := drvEventSync(d.c.h, ev); e != nil && err == nil {
			err = e
		}
	}
	for _, b := range out {
		var e error
		if b.kind == allocPool {
			e = drvFreeAsync(d.c.h, b.ptr, b.size, b.s.h)
		} else {
			e = drvFree(d.c.h, b.ptr, b.size)
		}
		if e != nil && err == nil {
			err = e
		}
		d.taken(b.kind, b.size)
		freed += int64(b.size)
	}
	if err != nil {
		return freed, fmt.Errorf("cuda: give back cached device memory on device %d: %w", d.c.dev.Ordinal, err)
	}
	return freed, nil
}

// dropStream gives back the blocks freed on s and forgets s, before s is
// destroyed. The caller holds the context exclusively.
func (d *deviceCache) dropStream(s *Stream) error {
	_, err := d.release(s, ^uint64(0), true)
	d.mu.Lock()
	defer d.mu.Unlock()
	for kind := range d.bins {
		for ci, lists := range d.bins[kind] {
			kept := lists[:0]
			for _, l := range lists {
				if l.s != s || len(l.blocks) > 0 {
					kept = append(kept, l)
				}
			}
			clear(lists[len(kept):])
			d.bins[kind][ci] = kept
		}
	}
	if m := d.marks[s]; m != nil {
		if m.ev != 0 {
			if e := drvEventDestroy(d.c.h, m.ev); e != nil && err == nil {
				err = fmt.Errorf("cuda: destroy the cache's event of a stream: %w", e)
			}
		}
		delete(d.marks, s)
	}
	return err
}

// close gives back every block and the cache's events, and takes the
// cache out of the ledger. The caller holds the context exclusively.
func (d *deviceCache) close() error {
	_, err := d.release(nil, ^uint64(0), true)
	d.mu.Lock()
	for s, m := range d.marks {
		if m.ev != 0 {
			if e := drvEventDestroy(d.c.h, m.ev); e != nil && err == nil {
				err = fmt.Errorf("cuda: destroy the cache's event of a stream: %w", e)
			}
		}
		delete(d.marks, s)
	}
	d.bins = [2][cacheClasses][]streamBlocks{}
	d.mu.Unlock()
	d.unregister()
	openCaches.Lock()
	delete(openCaches.m, d)
	openCaches.Unlock()
	return err
}

// Cached is the ledger's view of the cache (tracker.AllocatorCache).
func (d *deviceCache) Cached(dst []tracker.Cached) []tracker.Cached {
	for _, k := range [...]allocKind{allocPlain, allocPool} {
		// Bytes reserved for a block on its way in count before it does.
		n, blocks := d.bytes[k].Load(), d.blocks[k].Load()
		if n == 0 && blocks == 0 {
			continue
		}
		kind := kindDevice
		if k == allocPool {
			kind = kindPool
		}
		dst = append(dst, tracker.Cached{Kind: kind, Device: d.c.dev.Ordinal, Bytes: n, Blocks: blocks})
	}
	return dst
}

// Trim gives every cached block back when the device ran out of memory
// (tracker.AllocatorCache); a limit's shortage counts only live bytes,
// which cached ones are not, so it gives nothing back for one.
func (d *deviceCache) Trim(s tracker.Shortage) int64 {
	if s.Cause != tracker.ShortOfMemory {
		return 0
	}
	if d.c.enter("trim device cache") != nil {
		return 0
	}
	defer d.c.exit()
	freed, err := d.release(nil, ^uint64(0), true)
	if err != nil {
		d.c.park(err)
	}
	return freed
}

// trimIdleCaches runs after every garbage collection, on the runtime's
// cleanup goroutine: each open cache gives back the blocks it has held
// since before the previous collection, where that needs no wait. A
// context busy closing is skipped (its Close empties it).
func trimIdleCaches() {
	epoch := cacheEpoch.Add(1)
	if epoch < 2 {
		return
	}
	openCaches.Lock()
	caches := make([]*deviceCache, 0, len(openCaches.m))
	for d := range openCaches.m {
		caches = append(caches, d)
	}
	openCaches.Unlock()
	for _, d := range caches {
		if d.held.Load() == 0 || !d.c.mu.TryRLock() {
			continue
		}
		if !d.c.closed {
			if _, err := d.release(nil, epoch-2, false); err != nil {
				d.c.park(err)
			}
		}
		d.c.mu.RUnlock()
	}
}

// EmptyCache gives every block of device memory the context keeps for
// reuse back to the driver, after the work queued before its free on its
// stream has completed (it waits for the cache's events), and returns the
// bytes it gave back. The cache fills again as the program allocates and
// frees. Close empties it too; a nil or zero Context has nothing to give
// back and returns an error wrapping ErrInvalidArgument.
func (c *Context) EmptyCache() (freed int64, err error) {
	if err := c.enter("empty cache"); err != nil {
		return 0, err
	}
	defer c.exit()
	return c.cache.release(nil, ^uint64(0), true)
}

// CachedBytes returns how many bytes of freed device memory the context
// keeps for reuse now (the ledger's tracker.CachedBytes sums every
// context's).
func (c *Context) CachedBytes() int64 {
	if c == nil || c.cache == nil {
		return 0
	}
	return c.cache.held.Load()
}
