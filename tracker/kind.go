package tracker

import (
	"fmt"
	"sync"
)

// Kind says what sort of native memory a record accounts for. Counters,
// limits and reports are kept per kind.
type Kind uint8

// The kinds membridge itself uses. More can be added with [RegisterKind].
const (
	KindCHeap          Kind = iota // C heap memory allocated by package native
	KindArenaChunk                 // a chunk an arena took from the C heap
	KindAdopted                    // memory a C library allocated and membridge adopted
	KindCExtension                 // memory C code allocated through cext/membridge.h
	KindDevice                     // CUDA device memory
	KindDevicePool                 // CUDA device memory from a stream-ordered pool
	KindDeviceEmulated             // device memory emulated on the host (CPU backend)
	KindPinned                     // page-locked host memory
	KindHandle                     // a handle that lets C refer to a Go value
	numBuiltinKinds
)

// MaxKinds is how many kinds the ledger can hold, built-in ones included.
const MaxKinds = 32

var kinds = struct {
	sync.Mutex
	names [MaxKinds]string
	n     int
}{
	names: [MaxKinds]string{
		KindCHeap:          "c-heap",
		KindArenaChunk:     "arena-chunk",
		KindAdopted:        "adopted",
		KindCExtension:     "c-extension",
		KindDevice:         "device",
		KindDevicePool:     "device-pool",
		KindDeviceEmulated: "device-emulated",
		KindPinned:         "pinned-host",
		KindHandle:         "go-handle",
	},
	n: int(numBuiltinKinds),
}

// String returns the kind's name, as it appears in reports and metrics.
func (k Kind) String() string {
	if int(k) < MaxKinds {
		kinds.Lock()
		name := kinds.names[k]
		kinds.Unlock()
		if name != "" {
			return name
		}
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// RegisterKind adds a kind of memory to the ledger, or returns the existing
// kind of that name. It fails once [MaxKinds] kinds exist.
func RegisterKind(name string) (Kind, error) {
	if name == "" {
		return 0, fmt.Errorf("tracker: register kind: empty name")
	}
	kinds.Lock()
	defer kinds.Unlock()
	for i := 0; i < kinds.n; i++ {
		if kinds.names[i] == name {
			return Kind(i), nil
		}
	}
	if kinds.n == MaxKinds {
		return 0, fmt.Errorf("tracker: register kind %q: all %d kinds are in use", name, MaxKinds)
	}
	k := Kind(kinds.n)
	kinds.names[k] = name
	kinds.n++
	return k, nil
}

// Kinds returns every kind registered so far, built-in ones first.
func Kinds() []Kind {
	kinds.Lock()
	defer kinds.Unlock()
	out := make([]Kind, kinds.n)
	for i := range out {
		out[i] = Kind(i)
	}
	return out
}
