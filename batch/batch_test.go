package batch_test

import (
	"math"
	"slices"
	"strings"
	"testing"
	"unsafe"

	"github.com/membridge/membridge/batch"
	"github.com/membridge/membridge/batch/internal/leaky"
	"github.com/membridge/membridge/cext"
	"github.com/membridge/membridge/cext/leakcheck"
	"github.com/membridge/membridge/internal/testkit"
	"github.com/membridge/membridge/native"
	"github.com/membridge/membridge/tracker"
	"github.com/membridge/membridge/tracker/leaktest"
	"github.com/membridge/membridge/tracker/stacks"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func records(values ...float32) []batch.Record {
	out := make([]batch.Record, len(values))
	for i, v := range values {
		out[i] = batch.Record{ID: uint64(100 + i), Value: v}
	}
	return out
}

func ids(recs []batch.Record) []uint64 {
	var out []uint64
	for _, r := range recs {
		out = append(out, r.ID)
	}
	return out
}

var nan = float32(math.NaN())

// sameRecord compares records bit for bit (NaN values included).
func sameRecord(a, b batch.Record) bool {
	return a.ID == b.ID && a.Flags == b.Flags && math.Float32bits(a.Value) == math.Float32bits(b.Value)
}

var filterCases = []struct {
	name   string
	in     []batch.Record
	lo, hi float32
	want   []uint64
}{
	{"some", records(0.5, 2, 1, -1, 1.5, 3), 1, 2, []uint64{101, 102, 104}},
	{"bounds included", records(1, 2), 1, 2, []uint64{100, 101}},
	{"none", records(5, 6), 1, 2, nil},
	{"all", records(1, 1.25), 0, 10, []uint64{100, 101}},
	{"empty batch", nil, 0, 1, nil},
	{"NaN is never kept", records(nan, 1), 0, 2, []uint64{101}},
	{"empty range", records(1, 2), 2, 1, nil},
}

func TestFilterAndProcess(t *testing.T) {
	for _, shape := range []struct {
		name string
		run  func([]batch.Record, float32, float32) (*batch.Result, error)
	}{{"Filter", batch.Filter}, {"Process", batch.Process}} {
		for _, c := range filterCases {
			t.Run(shape.name+"/"+c.name, func(t *testing.T) {
				defer leakcheck.Check(t)
				in := slices.Clone(c.in)
				res, err := shape.run(in, c.lo, c.hi)
				require.NoError(t, err)
				defer res.Free()
				got := res.Records()
				if !slices.Equal(ids(got), c.want) || res.Len() != len(c.want) {
					t.Errorf("kept %v (Len %d), want %v", ids(got), res.Len(), c.want)
				}
				for _, r := range got {
					if r.Flags&batch.Kept == 0 || r.Value < c.lo || r.Value > c.hi {
						t.Errorf("kept record %+v: want the Kept flag and a value in [%v, %v]", r, c.lo, c.hi)
					}
				}
				assert.True(t, slices.EqualFunc(in, c.in, sameRecord), "the input batch changed: %v", in)
			})
		}
	}
}

// TestProcessOwnsTheWholeBlock: the Result of Process holds the working
// block (every record plus the extension's header), not just the view, and
// the ledger counts it once, as adopted, under the extension's tag.
func TestProcessOwnsTheWholeBlock(t *testing.T) {
	defer leakcheck.Check(t)
	in := records(1, 9, 2, 9, 3)
	before := tracker.TagStats(batch.TagWork)
	res, err := batch.Process(in, 0, 5)
	require.NoError(t, err)
	const header = 16 // the extension's size_t n, kept
	want := header + len(in)*int(unsafe.Sizeof(batch.Record{}))
	assert.Equal(t, want, res.Bytes(), "Result bytes: want the working block's")
	s := tracker.TagStats(batch.TagWork)
	if s.LiveBytes-before.LiveBytes != int64(want) || s.LiveCount-before.LiveCount != 1 {
		t.Errorf("ledger for %q: %+v, want one block of %d bytes live", batch.TagWork, s, want)
	}
	require.NoError(t, res.Free())
	//membridge:ignore doublefree the test checks that a second Free returns ErrFreed
	assert.ErrorIs(t, res.Free(), native.ErrFreed, "second Free")
	if s := tracker.TagStats(batch.TagWork); s.LiveBytes != before.LiveBytes {
		t.Errorf("after Free: %+v, want %d live bytes", s, before.LiveBytes)
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("Records after Free did not panic")
			}
		}()
		_ = res.Records()
	}()
}

// TestLeakyWrapperIsReported reproduces the processBatch leak with the
// wrong wrapper and checks that the test mode reports it with the tag and
// the Go stack of the call. The fixture must keep failing this way: if the
// report ever disappears, the check has stopped working.
func TestLeakyWrapperIsReported(t *testing.T) {
	defer leakcheck.Check(t)
	kept := leaky.Process(records(1, 5, 2), 0, 3)
	require.True(t, slices.Equal(ids(kept), []uint64{100, 102}), "leaky.Process kept %v", ids(kept))
	var r leaktest.Recorder
	leaktest.VerifyNone(&r, leaktest.MaxWait(0))
	require.Len(t, r.Reports(), 1, "VerifyNone reported")
	report := r.Reports()[0]
	for _, want := range []string{
		"LEAK of 64 bytes", // the 16-byte header and 3 records
		`tag "batch.work"`,
		"kind c-extension",
		"made by TestLeakyWrapperIsReported",
		"leaky.Process",
		"batch_test.go",
	} {
		assert.Contains(t, report, want, "leak report lacks")
	}
	// Clean up the leak this test made on purpose.
	for _, rec := range tracker.LiveSnapshots() {
		if rec.Tag == batch.TagWork && rec.Kind == cext.KindCExtension {
			assert.NoError(t, cext.FreeLeaked(rec))
		}
	}
}

// TestFixedWrapperPasses runs the same batch through the right wrapper:
// nothing is left.
func TestFixedWrapperPasses(t *testing.T) {
	res, err := batch.Process(records(1, 5, 2), 0, 3)
	require.NoError(t, err)
	assert.True(t, slices.Equal(ids(res.Records()), []uint64{100, 102}), "kept %v", ids(res.Records()))
	res.Free()
	var r leaktest.Recorder
	leaktest.VerifyNone(&r, leaktest.MaxWait(0))
	assert.Len(t, r.Reports(), 0, "VerifyNone after the fixed wrapper")
}

// TestDroppedResultIsReleasedBySafetyNet: a Result dropped without Free is
// found by the safety net, released through the extension's deleter, and
// reported by the test mode.
func TestDroppedResultIsReleasedBySafetyNet(t *testing.T) {
	defer leakcheck.Check(t)
	before := tracker.TagStats(batch.TagWork)
	func() {
		//membridge:ignore leak the test drops the result on purpose and checks that the safety net releases its block
		res, err := batch.Process(records(1, 2, 3), 0, 10)
		require.NoError(t, err)
		_ = res.Len()
	}()
	testkit.Eventually(t, func(c *assert.CollectT) {
		tracker.GC()
		assert.Equal(c, before.LiveBytes, tracker.TagStats(batch.TagWork).LiveBytes, "work bytes live")
	})
	if s := tracker.TagStats(batch.TagWork); s.LiveBytes != before.LiveBytes || s.DroppedCount != before.DroppedCount+1 {
		t.Fatalf("after dropping a Result: %+v, want it released and counted as dropped", s)
	}
	var r leaktest.Recorder
	leaktest.VerifyNone(&r, leaktest.MaxWait(0))
	if len(r.Reports()) != 1 || !strings.Contains(r.Reports()[0], "dropped without Free") || !strings.Contains(r.Reports()[0], "TestDroppedResultIsReleasedBySafetyNet") {
		t.Errorf("VerifyNone: %q, want the dropped Result reported", r.Reports())
	}
}

func BenchmarkFilter(b *testing.B) {
	for _, shape := range []struct {
		name string
		run  func([]batch.Record, float32, float32) (*batch.Result, error)
	}{{"Filter", batch.Filter}, {"Process", batch.Process}} {
		b.Run(shape.name, func(b *testing.B) {
			prev := tracker.SetStackRate(stacks.DefaultSampleRate)
			defer tracker.SetStackRate(prev)
			in := make([]batch.Record, 1024)
			for i := range in {
				in[i] = batch.Record{ID: uint64(i), Value: float32(i%100) / 100}
			}
			b.SetBytes(int64(len(in) * int(unsafe.Sizeof(batch.Record{}))))
			for b.Loop() {
				res, err := shape.run(in, 0.25, 0.75)
				if err != nil {
					b.Fatal(err)
				}
				res.Free()
			}
		})
	}
}
