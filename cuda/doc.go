// Package cuda gives Go code owned CUDA device memory: freed
// deterministically, counted in membridge's ledger like any other native
// memory, and reclaimed by the safety net when a handle is dropped.
//
// A [Context] owns one device's primary context (the one the CUDA runtime
// uses, so libraries built on it share the memory space). Device memory
// comes as a [DeviceBuffer] (bytes) or a [DeviceSlice] (typed, pointer-free
// elements), borrowed as a [DeviceView] or [SliceView]; page-locked host
// memory as a [PinnedBuffer]. Copy names say whether they allocate and in
// which direction: CloneHtoD allocates and copies, CopyHtoD fills what
// exists; HtoD, DtoH, DtoD. Functions ending in On are ordered on a
// [Stream]; the others complete before they return.
//
// Stream-ordered allocation ([Stream.Alloc]) uses the device's memory pool
// (cuMemAllocAsync) where the device supports it, and plain allocation
// otherwise. A buffer used on a stream other than the one it was allocated
// on records that use, and its free waits for it.
//
// Each Context keeps the device memory its program frees, in blocks of a
// few sizes (multiples of 512 bytes up to 1 MiB, eight sizes per doubling
// up to 64 MiB; larger requests go to the driver), and hands it out again
// without a driver call: a block freed on a stream is reused on that
// stream at once, and on another only after an event recorded on the
// first since the free has completed (cache.go has the design). The
// cached memory has no record in the ledger, which shows it apart
// (tracker.CachedStats) and trims it first when the device runs out. It
// is bounded by [CacheLimit] (an Option of Open; 0 turns it off), given
// back after garbage collections when idle, by [Context.EmptyCache], and
// by Close. While tracker.Checking() is on, as in tests, the cache is off,
// so every free reaches the driver and its checks.
//
// Two backends share this API, chosen by build tag:
//
//   - cuda (go build -tags cuda): the NVIDIA driver, through
//     gorgonia.org/cu and a little cgo of membridge's own for what gorgonia
//     does not wrap (pinned memory, pools, context-scoped calls).
//   - host (the default): device memory emulated in C heap memory, counted
//     as KindDeviceEmulated, with the device's rules kept (copies
//     only through this API, bounds checks, stream ordering) and kernels
//     run by their C reference implementations (cuda/internal/refkernels).
//     A service built without the tag runs the same code and gets the same
//     results.
//
// Every hot-path call that talks to the driver (allocation, copies,
// launches, streams, events) pushes the context, does its work and pops it
// within one cgo call, so no goroutine needs to lock its thread; the few
// cold calls made through gorgonia.org/cu (loading modules, MemInfo) lock
// the thread only for their duration.
// The safety net never calls CUDA: a dropped buffer is queued to its
// Context, which frees it (stream-ordered) on its next call, Synchronize or
// Close.
//
// Allocations follow package native's naming rule: a name that starts with
// Alloc hands out uninitialised memory, and the same name ending in Zeroed
// zeroed memory ([Context.Alloc] and [Context.AllocZeroed], [AllocSlice]
// and [AllocSliceZeroed], [Stream.Alloc] and [Stream.AllocZeroed]); the
// Clone functions hand out memory filled with what they copy. Free ends
// each memory handle (Close is Free, for io.Closer); a Context, Stream,
// Module or Event ends with Close. [Open] takes functional options
// ([Option], as native's and cache's).
package cuda
