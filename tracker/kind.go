package tracker

import (
	"fmt"
	"sync"
)

// Kind says what sort of native memory a record accounts for. Counters,
// limits and reports are kept per kind. The ledger knows no kind of its
// own: each owner registers its kinds with [RegisterKind] when its package
// is initialised (package native: c-heap, arena-chunk, adopted; cext:
// c-extension; cuda: device, device-pool, device-emulated, pinned-host;
// handle: go-handle), and a kind's number is the order of registration.
type Kind uint8

// MaxKinds is how many kinds the ledger can hold.
const MaxKinds = 32

var kinds = struct {
	sync.Mutex
	names [MaxKinds]string
	n     int
}{}

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

// Kinds returns every kind registered so far, in the order of registration.
func Kinds() []Kind {
	kinds.Lock()
	defer kinds.Unlock()
	out := make([]Kind, kinds.n)
	for i := range out {
		out[i] = Kind(i)
	}
	return out
}
