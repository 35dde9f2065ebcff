package ledgertest_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/membridge/membridge/internal/testkit"
	"github.com/membridge/membridge/native"
	"github.com/membridge/membridge/tracker"
	"github.com/membridge/membridge/tracker/internal/ledgertest"
	"github.com/membridge/membridge/tracker/leaktest"
)

func TestRecordsAreCountedUntilFreed(t *testing.T) {
	defer leaktest.VerifyNone(t)
	tag := testkit.UniqueTag(t)
	r := ledgertest.Commit(t, native.KindCHeap, -1, tag, 10)
	var o ledgertest.Records
	o.Alloc(t, native.KindCHeap, -1, tag, 20)
	o.Alloc(t, native.KindCHeap, -1, tag, 30)
	assert.EqualValues(t, 60, tracker.TagStats(tag).LiveBytes)
	o.Free()
	assert.EqualValues(t, 30, tracker.TagStats(tag).LiveBytes)
	o.FreeAll()
	r.Release()
	assert.Zero(t, tracker.TagStats(tag).LiveBytes)
}
