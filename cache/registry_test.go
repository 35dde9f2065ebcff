package cache_test

import (
	"fmt"
	"testing"

	"github.com/membridge/membridge/cache"
)

func TestRegistry(t *testing.T) {
	un := cache.Register("zz-test", func() cache.Stats { return cache.Stats{Hits: 3, Bytes: 7} })
	found := false
	for _, c := range cache.All() {
		if c.Name == "zz-test" {
			found = c.Hits == 3 && c.Bytes == 7
		}
	}
	if !found {
		t.Error("registered cache missing from All()")
	}
	un()
	for _, c := range cache.All() {
		if c.Name == "zz-test" {
			t.Error("unregistered cache still listed")
		}
	}
}

func ExampleRegister() {
	unregister := cache.Register("example", func() cache.Stats {
		return cache.Stats{Hits: 9, Misses: 1, Bytes: 4096, Entries: 2}
	})
	defer unregister()
	for _, c := range cache.All() {
		if c.Name == "example" {
			fmt.Printf("%s: %d hits, %d misses, %d bytes\n", c.Name, c.Hits, c.Misses, c.Bytes)
		}
	}
	// Output: example: 9 hits, 1 misses, 4096 bytes
}
