// Package cache is a stub of membridge's cache package for the analyzers'
// tests (TestStubsMatchTheRealAPI checks the signatures).
package cache

import "github.com/membridge/membridge/native"

type Option interface{ apply() }

type Cache[K comparable] struct{}

func New[K comparable](name string, maxBytes int64, opt ...Option) (*Cache[K], error) {
	return &Cache[K]{}, nil
}
func (c *Cache[K]) Get(key K) (*native.Buffer, bool)  { return nil, false }
func (c *Cache[K]) Put(key K, b *native.Buffer) error { return nil }
func (c *Cache[K]) Close() error                      { return nil }
