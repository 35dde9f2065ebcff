package testkit_test

import (
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/membridge/membridge/internal/testkit"
)

func TestUniqueTagIsUniqueAndNamesTheTest(t *testing.T) {
	a, b := testkit.UniqueTag(t), testkit.UniqueTag(t, "cache", "budget")
	assert.NotEqual(t, a, b)
	assert.True(t, strings.HasPrefix(a, t.Name()+"#"), a)
	assert.True(t, strings.HasPrefix(b, t.Name()+"/cache/budget#"), b)
}

func TestEventuallyWaitsForTheCondition(t *testing.T) {
	var n atomic.Int32
	testkit.Eventually(t, func(c *assert.CollectT) {
		assert.GreaterOrEqual(c, n.Add(1), int32(3))
	})
	assert.GreaterOrEqual(t, n.Load(), int32(3))
}

func TestUntilRunsBetweenBeforeEachPoll(t *testing.T) {
	var between, polls int
	ok := testkit.Until(func() bool { polls++; return polls == 3 }, func() { between++ })
	assert.True(t, ok)
	assert.Equal(t, 3, between)
}
