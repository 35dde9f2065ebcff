// Package ownership holds membridgevet's analyzers: static checks, on
// golang.org/x/tools/go/analysis and SSA, of the ownership rules of
// membridge's handles (native buffers, slices, arenas and views, cuda
// device and pinned memory, callback handles, cext blocks, cache entries).
//
// Five analyzers, one per check, each named as //membridge:ignore
// directives name it:
//
//   - leak: a handle from a constructor that some path out of the function
//     neither frees nor hands on (returns, stores, sends, passes to a
//     function that owns it); the suggested fix inserts defer x.Free().
//   - useafterfree: a use of a handle, or of a slice or pointer taken from
//     it, after its Free, Move, Release or HandToC.
//   - keptslice: a Bytes() or Ptr() result used after the last use of a
//     handle that is never freed or handed on, so the safety net may free
//     the memory under it.
//   - doublefree: a second free on a straight path, and Free of a reference
//     borrowed from a cache.
//   - gopointer: element types holding Go pointers given to typed C or
//     device memory.
//
// A function that takes ownership of a parameter the analysis cannot see
// says so with //membridge:owns x; a finding is silenced with
// //membridge:ignore <check> <reason>. cmd/membridgevet runs them all, as
// a go vet tool or on its own; docs/membridgevet.md says what they catch
// and what they cannot.
package ownership
