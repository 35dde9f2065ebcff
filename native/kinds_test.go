package native

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// The kinds keep the names reports and metrics have always shown.
func TestKindNames(t *testing.T) {
	assert.Equal(t, "c-heap", KindCHeap.String())
	assert.Equal(t, "arena-chunk", KindArenaChunk.String())
	assert.Equal(t, "adopted", KindAdopted.String())
}
