package errprefix_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/membridge/membridge/internal/errprefix"
	"github.com/stretchr/testify/assert"
)

func TestWithin(t *testing.T) {
	sentinel := errors.New("no such device")
	inner := fmt.Errorf("cuda: device 7 of 1: %w", sentinel)
	err := errprefix.Within("cuda: ", "open", inner)
	assert.EqualError(t, err, "cuda: open: device 7 of 1: no such device")
	assert.ErrorIs(t, err, sentinel)
	// An error without the prefix is passed on whole.
	assert.EqualError(t, errprefix.Within("cuda: ", "open", sentinel), "cuda: open: no such device")
}
