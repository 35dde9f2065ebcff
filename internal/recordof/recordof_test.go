package recordof_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/membridge/membridge/internal/recordof"
	"github.com/membridge/membridge/tracker"
)

type handle struct{ rec *tracker.Record }

func TestOfFindsTheRegisteredRecord(t *testing.T) {
	rec := new(tracker.Record)
	assert.Nil(t, recordof.Of(&handle{rec}), "before Register")
	recordof.Register(func(h *handle) *tracker.Record { return h.rec })
	assert.Same(t, rec, recordof.Of(&handle{rec}))
}
