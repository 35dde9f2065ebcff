//go:build !cuda

package cuda

import (
	"fmt"
	"sync"

	"github.com/membridge/membridge/cuda/internal/refkernels"
)

// Emulated modules: a module is the set of its entry names; a function is
// the C reference kernel of that name (cuda/internal/refkernels), run on
// the calling goroutine when launched.

var hostFunctions struct {
	sync.Mutex
	byHandle []*refkernels.Kernel // handle i+1
	modules  map[uintptr]map[string]bool
}

func drvModuleLoad(_ uintptr, ptx string) (uintptr, error) {
	entries, err := parseEntries(ptx)
	if err != nil {
		return 0, err
	}
	h := newHandle()
	names := map[string]bool{}
	for n := range entries {
		names[n] = true
	}
	hostFunctions.Lock()
	if hostFunctions.modules == nil {
		hostFunctions.modules = map[uintptr]map[string]bool{}
	}
	hostFunctions.modules[h] = names
	hostFunctions.Unlock()
	return h, nil
}

func drvModuleUnload(_ uintptr, m uintptr) error {
	hostFunctions.Lock()
	delete(hostFunctions.modules, m)
	hostFunctions.Unlock()
	return nil
}

func drvModuleFunction(_ uintptr, m uintptr, name string) (uintptr, error) {
	hostFunctions.Lock()
	defer hostFunctions.Unlock()
	if !hostFunctions.modules[m][name] {
		return 0, &DriverError{Call: "cuModuleGetFunction", Code: 500, Name: "CUDA_ERROR_NOT_FOUND"}
	}
	k, ok := refkernels.Find(name)
	if !ok {
		return 0, fmt.Errorf("host backend: kernel %s has no C reference implementation to run it: %w", name, ErrNotSupported)
	}
	for i, x := range hostFunctions.byHandle {
		if x == k {
			return uintptr(i + 1), nil
		}
	}
	hostFunctions.byHandle = append(hostFunctions.byHandle, k)
	return uintptr(len(hostFunctions.byHandle)), nil
}

func drvLaunch(_ uintptr, fn uintptr, grid, block Dim3, _ uint32, _ uintptr, slots []uint64) error {
	hostFunctions.Lock()
	k := hostFunctions.byHandle[fn-1]
	hostFunctions.Unlock()
	if grid.Y != 1 || grid.Z != 1 || block.Y != 1 || block.Z != 1 {
		return fmt.Errorf("host backend: %s: only 1-D launches are emulated: %w", k.Name, ErrBadLaunch)
	}
	if err := k.Launch(grid.X, block.X, slots); err != nil {
		return fmt.Errorf("%w: %w", ErrBadLaunch, err)
	}
	return nil
}
