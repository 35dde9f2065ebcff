package native

import (
	"unsafe"

	"github.com/membridge/membridge/tracker"
)

// Buffers of largeMin bytes and more take the large-buffer path
// (mb_large.c): pages of their own from mmap, and freed ones kept, up
// to a sixteenth of the bytes in use (at least 4 MiB), for the next buffer
// of the same size class.
//
// Why not malloc: glibc serves such sizes from per-thread arenas once its
// mmap threshold has grown, and cgo calls land on several OS threads, so
// memory freed in one arena is not reused by an allocation in another: a
// service replacing large buffers peaks at up to twice its live bytes.
// Why not one mmap per buffer: each new buffer then faults all its pages
// in, which is slower than malloc. Keeping a bounded amount of freed pages
// gets both: the footprint stays within about 1.07x of the live bytes and
// reused pages are already resident. cmd/footprint measures it.
const (
	largeMin   = 256 << 10
	largeAlign = 4096 // mmap's alignment; larger alignments go to malloc
)

// LargeStats describes the large-buffer path.
type LargeStats struct {
	LiveBytes int64 // handed out, rounded to size classes
	KeptBytes int64 // freed and kept for reuse
	Maps      int64 // mmap calls so far
	Unmaps    int64 // munmap calls so far
	Reuses    int64 // allocations served from kept memory
}

// LargeBufferStats returns the large-buffer path's counters.
func LargeBufferStats() LargeStats { return cLargeStats() }

// TrimLargeBuffers gives every kept free page of the large-buffer path back
// to the operating system and returns the bytes it unmapped. Under memory
// pressure the ledger's Relieve does it too.
func TrimLargeBuffers() int64 { return cLargeTrim(0) }

func init() {
	tracker.RegisterRelief("native-large-kept", func(s tracker.Shortage) int64 {
		if s.Cause != tracker.ShortOfMemory {
			return 0 // kept pages count against no limit
		}
		return cLargeTrim(0)
	})
}

// allocMem takes n > 0 bytes from the large-buffer path, from pages of
// their own (paged: the checked mode, quarantine.go) or from malloc.
func allocMem(n, align int, f fill, large, paged, mag bool) unsafe.Pointer {
	switch {
	case large:
		return cLargeAlloc(n, f)
	case paged:
		return pagedAlloc(n, f)
	case mag:
		return magAllocFilled(n, f)
	}
	return cAlloc(n, align, f)
}

func largeFree(p unsafe.Pointer, n int, poison bool) { cLargeFree(uintptr(p), n, poison) }

// largeReclaim gives back a large buffer whose handle was dropped.
// In the checked mode it is quarantined first (quarantine.go).
var largeReclaim = tracker.ReclaimFunc(func(r *tracker.Record) {
	unmarkOwned(r.Addr())
	if tracker.Checking() {
		quarantineMem(r.Addr(), int(r.Bytes()), droppedDesc("*Buffer", "buffer", r), func(p uintptr, n int) {
			_ = cProtect(p, n, protRW) // the large path's free writes its poison
			cLargeFree(p, n, true)
		})
		return
	}
	cLargeFree(r.Addr(), int(r.Bytes()), tracker.Checking())
})
