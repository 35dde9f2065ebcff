// Package tracker is membridge's ledger: it accounts for every native
// allocation that membridge owns, whatever the memory is (C heap, arena
// chunks, memory adopted from C libraries, CUDA device and pinned memory,
// handles for Go values given to C).
//
// It knows none of its users: the owners (packages native, cuda, cext,
// handle) register their kinds of memory ([RegisterKind]) and enter every
// allocation with [Allocate], handing it the
// request and a function that makes the allocation: the ledger reserves the
// bytes against the limits, calls the function (relieving memory pressure
// and retrying once when it runs out), then commits the record and watches
// the owner's handle. Owners end it with [Record.Release] (or [Record.Retire],
// which also gives the record back for reuse), and hand out
// [Snapshot] values, not records. In between, the ledger keeps:
//
//   - counters per kind and per (kind, device, tag): live bytes and count,
//     peak bytes, totals allocated and freed, and limits ([SetLimit],
//     [SetTagLimit]). The hot path works on the caller's per-P slot,
//     under one lock no other P takes but a reader; a kind or tag has a
//     shared total only once a limit is set on it. There is no global
//     lock.
//   - what allocator caches hold for reuse ([RegisterAllocatorCache]):
//     cached bytes, neither live nor leaked, trimmed first under pressure.
//   - the allocation stack, when the stack rate asks for it.
//   - a safety net: [Watch] attaches a runtime cleanup to the owner's handle,
//     so a handle the program drops without freeing is found, reported with
//     its allocation stack, and then handled by the [LeakPolicy].
//
// # Two switches
//
// How many stacks to keep: the environment variable MEMBRIDGE_TRACK (off,
// sample, sample:<bytes>, all) or [SetStackRate]. Stacks cost time and
// memory but change nothing else: a production leak hunt with
// MEMBRIDGE_TRACK=all allocates as the service always does.
//
// Whether to check ([Checking]): owners fill fresh memory with junk, poison
// or unmap freed memory, free at once what they would batch, quarantine
// arena chunks and trace C allocations one by one. MEMBRIDGE_CHECK=1 or
// [SetChecking] turn it on; a build with the membridge_invariants tag (as
// Pebble's invariants tag) makes it a constant, always on.
//
// The test mode turns both on, in every test binary from its start
// (unless the environment says otherwise), together with goroutine
// attribution and the LeakFail policy; package tracker/leaktest checks for
// leaks (VerifyNone, VerifyTestMain).
//
// # Tags
//
// Tags say what memory is for, and are meant to be few: the names a program
// gives its uses of memory. The ledger keeps counters for at most
// [MaxTags] tags (1,000 unless [SetMaxTags] says otherwise), so that a
// program that makes tags from data (one per request id, per user) cannot
// grow the ledger, or a Prometheus server's series, without bound. The
// memory of any further tag, and of a tag that is not valid UTF-8 or is
// longer than [MaxTagLen] bytes, is counted under the reserved tag
// [OverflowTag], "(overflow)": totals stay exact, and [TagsOverflowed] says
// how many tags went there. A tag given a limit ([SetTagLimit]) is always
// kept, past the cap if need be, so that its budget counts its own bytes.
//
// # Around the core
//
// Observers hear of every event through one hook ([Observer],
// [AddObserver]), which costs one atomic load per event while none is
// added: tracker/history (the event history), tracker/scope (memory of a
// region of code) and tracker/sites (totals per allocation site).
// tracker/external brings in counters kept outside the ledger (the C
// API's); tracker/stacks reads captured stacks; tracker/leaktest is the
// test mode; tracker/debughttp, memprofile, promcollector, sitereport and
// timeline export what the ledger knows.
package tracker
