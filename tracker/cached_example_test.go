package tracker_test

import (
	"fmt"
	"sync"

	"github.com/membridge/membridge/tracker"
)

// deviceBlockCache stands for an owner's cache of freed device blocks
// (package cuda's stream-aware cache): what the program freed, kept for
// the next allocation of the same size.
type deviceBlockCache struct {
	mu     sync.Mutex
	device int
	free   []int64 // the sizes of the blocks kept
}

func (c *deviceBlockCache) Cached(dst []tracker.Cached) []tracker.Cached {
	c.mu.Lock()
	defer c.mu.Unlock()
	var bytes int64
	for _, n := range c.free {
		bytes += n
	}
	return append(dst, tracker.Cached{Kind: kindDevice, Device: c.device, Bytes: bytes, Blocks: int64(len(c.free))})
}

func (c *deviceBlockCache) Trim(s tracker.Shortage) (freed int64) {
	if s.Cause != tracker.ShortOfMemory {
		return 0 // a limit counts live bytes: giving cached ones back would not help
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(c.free) > 0 && (s.Bytes <= 0 || freed < s.Bytes) {
		freed += c.free[len(c.free)-1] // cuMemFree, in a real owner
		c.free = c.free[:len(c.free)-1]
	}
	return freed
}

// An owner's allocator cache reports what it keeps, per kind and device,
// and gives it back first when the allocator runs out of memory.
func ExampleRegisterAllocatorCache() {
	c := &deviceBlockCache{device: 3, free: []int64{1 << 20, 1 << 20, 4 << 20}}
	unregister := tracker.RegisterAllocatorCache("example-device-cache", c)
	defer unregister()

	for _, row := range tracker.CachedStats() {
		if row.Kind == kindDevice && row.Device == 3 {
			fmt.Printf("%s on device %d: %d bytes cached in %d blocks\n", row.Kind, row.Device, row.Bytes, row.Blocks)
		}
	}
	// The device ran out: Relieve trims the caches before anything else.
	tracker.Relieve(tracker.Shortage{Bytes: 2 << 20, Cause: tracker.ShortOfMemory})
	fmt.Println(tracker.CachedBytes(kindDevice, 3))
	// Output:
	// device on device 3: 6291456 bytes cached in 3 blocks
	// 2097152
}

// CachedStats is what the caches hold now, summed per kind and device;
// Trim empties them on request (Shortage{} asks for everything).
func ExampleCachedStats() {
	defer tracker.RegisterAllocatorCache("example-magazines", &deviceBlockCache{device: 5, free: []int64{4096, 4096}})()
	defer tracker.RegisterAllocatorCache("example-magazines", &deviceBlockCache{device: 5, free: []int64{64}})()
	for _, row := range tracker.CachedStats() {
		if row.Kind == kindDevice && row.Device == 5 {
			fmt.Println(row.Bytes, row.Blocks)
		}
	}
	tracker.Trim(tracker.Shortage{})
	fmt.Println(tracker.CachedBytes(kindDevice, 5))
	// Output:
	// 8256 3
	// 0
}
