package cache_test

import (
	"testing"
	"time"

	"github.com/membridge/membridge/cache"
	"github.com/membridge/membridge/internal/errprefix/errprefixtest"
	"github.com/membridge/membridge/tracker/leaktest"
	"github.com/stretchr/testify/require"
)

// Every error chain the cache returns carries its package prefix once, at
// the front: inner layers add context only.
func TestErrorsHaveOnePrefix(t *testing.T) {
	defer leaktest.VerifyNone(t)
	tag := t.Name()
	var errs []error
	//membridge:ignore leak false positive: New refuses these arguments and returns no cache
	_, err := cache.New[int]("bad", 0)
	errs = append(errs, err)
	//membridge:ignore leak false positive: New refuses these arguments and returns no cache
	_, err = cache.New[int]("bad", 1, cache.TTL(-time.Second))
	errs = append(errs, err)
	c, err := cache.New[int]("prefix", 100)
	require.NoError(t, err)
	errs = append(errs, c.Put(1, nil))
	big := buf(t, tag, 1000, 'b')
	errs = append(errs, c.Put(1, big))
	require.NoError(t, big.Free())
	moved := buf(t, tag, 10, 'm')
	require.NoError(t, c.Put(1, moved))
	errs = append(errs, c.Put(2, moved)) // moved into the cache already
	require.NoError(t, c.Close())
	b := buf(t, tag, 10, 'c')
	//membridge:ignore useafterfree the test checks the error of Put on a closed cache
	errs = append(errs, c.Put(1, b))
	require.NoError(t, b.Free())
	errs = append(errs, (&cache.Cache[int]{}).Put(1, nil))
	errprefixtest.Check(t, "cache: ", errs, "native: ")
}
