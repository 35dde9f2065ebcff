// Package tracker is membridge's ledger: it accounts for every native
// allocation that membridge owns, whatever the memory is (C heap, arena
// chunks, memory adopted from C libraries, CUDA device and pinned memory,
// handles for Go values given to C).
//
// The package knows nothing of C or CUDA. Owners (packages native, cuda,
// cext and handle) enter every allocation with [Allocate], handing it the
// request and a function that makes the allocation: the ledger reserves the
// bytes against the limits, calls the function (relieving memory pressure
// and retrying once when it runs out), then commits the record and watches
// the owner's handle. Owners end it with [Record.Release], and hand out
// [Snapshot] values, not records. In between, the ledger keeps:
//
//   - counters per kind and per (kind, device, tag): live bytes and count,
//     peak bytes, totals allocated and freed. The hot path is atomics and one
//     uncontended per-shard mutex; there is no global lock.
//   - the allocation stack, when the stack rate asks for it (see
//     [SetStackRate] and the MEMBRIDGE_TRACK environment variable).
//   - a safety net: [Watch] attaches a runtime cleanup to the owner's handle,
//     so a handle the program drops without freeing is found, reported with
//     its allocation stack, and then handled by the [LeakPolicy].
//
// Tags say what memory is for, and are meant to be few: the names a program
// gives its uses of memory. The ledger keeps counters for at most
// [MaxTags] tags ([DefaultMaxTags], 1,000, unless [SetMaxTags] says
// otherwise), so that a program that makes tags from data (one per request
// id, per user) cannot grow the ledger, or a Prometheus server's series,
// without bound. The memory of any further tag, and of a tag that is not
// valid UTF-8 or is longer than [MaxTagLen] bytes, is counted under the
// reserved tag [OverflowTag], "(overflow)": totals stay exact, and
// [TagsOverflowed] says how many tags went there. A tag given a limit
// ([SetTagLimit]) is always kept, past the cap if need be, so that its
// budget counts its own bytes.
//
// The test mode ([VerifyNone], [VerifyTestMain], [Find]) fails tests that
// leave native or device memory behind, and blames the test that made the
// allocation even when tests run in parallel.
package tracker
