package sitereport_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/membridge/membridge/native"

	"github.com/membridge/membridge/tracker"
	"github.com/membridge/membridge/tracker/internal/ledgertest"
	"github.com/membridge/membridge/tracker/leaktest"
	"github.com/membridge/membridge/tracker/sitereport"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMain(m *testing.M) { leaktest.VerifyTestMain(m) }

//go:noinline
func bigSite(t testing.TB) *tracker.Record {
	return ledgertest.Commit(t, native.KindCHeap, -1, "rep-big", 3<<20)
}

//go:noinline
func smallSite(t testing.TB, n int) []*tracker.Record {
	var out []*tracker.Record
	for range n {
		out = append(out, ledgertest.Commit(t, kindDeviceEmulated, 1, "rep-small", 1000))
	}
	return out
}

func TestReportRanksSitesByLiveBytes(t *testing.T) {
	defer leaktest.VerifyNone(t)
	recs := append(smallSite(t, 4), bigSite(t))
	defer func() {
		for _, r := range recs {
			r.Release()
		}
	}()
	rep := sitereport.Take(2)
	require.Len(t, rep.Sites, 2, "sites: want the top 2")
	big, small := rep.Sites[0], rep.Sites[1]
	if big.Tag != "rep-big" || big.LiveBytes != 3<<20 || big.LiveCount != 1 || big.Device != -1 {
		t.Errorf("first site %+v, want rep-big's 3 MiB on the host", big)
	}
	if small.Tag != "rep-small" || small.LiveBytes != 4000 || small.LiveCount != 4 || small.Kind != "device-emulated" {
		t.Errorf("second site %+v, want rep-small's 4 allocations", small)
	}
	// The stack starts at the caller of Reserve (this file's commit helper
	// where frames are walked by frame pointer), then bigSite.
	assert.True(t, slices.ContainsFunc(big.Stack[:min(2, len(big.Stack))], func(f sitereport.Frame) bool { return strings.HasSuffix(f.Function, "bigSite") }), "first frames %+v, want bigSite among them", big.Stack[:min(2, len(big.Stack))])

	var text bytes.Buffer
	require.NoError(t, rep.WriteText(&text))
	for _, want := range []string{"3.0 MiB", `tag "rep-big"`, "sitereport_test.bigSite", "device-emulated", "3.9 KiB"} {
		assert.Contains(t, text.String(), want, "text report lacks")
	}

	var js bytes.Buffer
	require.NoError(t, rep.WriteJSON(&js))
	var back sitereport.Report
	require.NoError(t, json.Unmarshal(js.Bytes(), &back))
	if len(back.Sites) != 2 || back.Sites[0].LiveBytes != 3<<20 || back.Sites[0].Stack[0].Line == 0 {
		t.Errorf("JSON round trip lost the sites: %s", js.String())
	}
	var dev1 bool
	for _, k := range back.Kinds {
		if k.Kind == "device-emulated" && k.Device == 1 && k.LiveBytes == 4000 && k.PeakBytes >= 4000 {
			dev1 = true
		}
	}
	assert.True(t, dev1, "kinds %+v lack device-emulated on device 1 with 4000 live bytes", back.Kinds)
}

func TestFormatBytes(t *testing.T) {
	for _, c := range []struct {
		n    int64
		want string
	}{{0, "0 B"}, {1023, "1023 B"}, {1536, "1.5 KiB"}, {5 << 20, "5.0 MiB"}, {3 << 30, "3.0 GiB"}} {
		if got := sitereport.FormatBytes(c.n); got != c.want {
			t.Errorf("FormatBytes(%d) = %q, want %q", c.n, got, c.want)
		}
	}
}

func ExampleReport_WriteText() {
	rep := sitereport.Take(10)
	rep.WriteText(os.Stdout)
}

func ExampleDeviceName() {
	fmt.Println(sitereport.DeviceName(-1), sitereport.DeviceName(0))
	// Output: host 0
}

// kindDeviceEmulated stands for package cuda's host-backend kind, by its
// name, without linking cuda (and, under the cuda tag, a driver).
var kindDeviceEmulated = ledgertest.MustKind("device-emulated")
