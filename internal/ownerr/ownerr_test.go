package ownerr

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestSentinelsAreDistinct(t *testing.T) {
	assert.NotErrorIs(t, ErrFreed, ErrMoved)
	assert.ErrorIs(t, fmt.Errorf("free: %w", ErrFreed), ErrFreed)
	assert.False(t, errors.Is(ErrMoved, ErrFreed))
}
