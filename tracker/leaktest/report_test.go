package leaktest_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/membridge/membridge/tracker"
	"github.com/membridge/membridge/tracker/internal/ledgertest"
	"github.com/membridge/membridge/tracker/leaktest"
)

// failingWriter fails every write, as a closed pipe or a full disk does.
type failingWriter struct{ err error }

func (w failingWriter) Write([]byte) (int, error) { return 0, w.err }

func TestWriteLeakReportReturnsTheWritersError(t *testing.T) {
	rec, err := tracker.AllocateUnwatched(tracker.Request{Kind: ledgertest.KindCHeap, Device: -1, Tag: "report.writer", Bytes: 64}, nil, nil)
	require.NoError(t, err)
	defer rec.Release()

	broken := errors.New("disk full")
	require.ErrorIs(t, leaktest.WriteLeakReport(failingWriter{broken}, []*tracker.Record{rec}), broken)
	require.Contains(t, leaktest.FormatLeaks([]*tracker.Record{rec}), "membridge: LEAK of 64 bytes in 1 allocation")
}
