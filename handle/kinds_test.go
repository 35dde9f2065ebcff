package handle_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/membridge/membridge/handle"
)

func TestKindName(t *testing.T) {
	assert.Equal(t, "go-handle", handle.KindHandle.String())
}
