package testhook

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestSetThenGet(t *testing.T) {
	defer func(old any) { ledger = old }(ledger)
	l := &Ledger[*int]{Goroutines: func(*int) (uint64, uint64) { return 7, 1 }}
	Set(l)
	assert.Same(t, l, Get[*int]())
	assert.Panics(t, func() { Get[*string]() })
}
