package gctick

import (
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/membridge/membridge/internal/testkit"
	"github.com/stretchr/testify/assert"
)

func TestEveryRunsAfterEachCollection(t *testing.T) {
	var n atomic.Int32
	Every(func() { n.Add(1) })
	testkit.Eventually(t, func(c *assert.CollectT) {
		runtime.GC()
		assert.GreaterOrEqual(c, n.Load(), int32(3), "runs after collections")
	})
}
