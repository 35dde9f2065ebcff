package ownerr

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestSentinelsAreDistinct(t *testing.T) {
	assert.NotErrorIs(t, Freed, Moved)
	assert.ErrorIs(t, fmt.Errorf("free: %w", Freed), Freed)
	assert.False(t, errors.Is(Moved, Freed))
}
