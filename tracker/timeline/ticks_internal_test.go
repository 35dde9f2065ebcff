package timeline

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestTimeTicksAreRoundSteps(t *testing.T) {
	ms := time.Millisecond
	for _, c := range []struct {
		t0, t1 time.Duration
		want   []string
	}{
		// The spans that gave 0.61 s and 1.21 s ticks before.
		{0, 3050 * ms, []string{"0.0s", "0.5s", "1.0s", "1.5s", "2.0s", "2.5s", "3.0s"}},
		{0, 3 * time.Second, []string{"0.0s", "0.5s", "1.0s", "1.5s", "2.0s", "2.5s", "3.0s"}},
		{130 * ms, 1340 * ms, []string{"0.2s", "0.4s", "0.6s", "0.8s", "1.0s", "1.2s"}},
		{12 * time.Second, 47 * time.Second, []string{"15s", "20s", "25s", "30s", "35s", "40s", "45s"}},
		{0, 10 * time.Minute, []string{"0s", "100s", "200s", "300s", "400s", "500s", "600s"}},
		{5 * time.Second, 5*time.Second + 7*ms, []string{"5.000s", "5.001s", "5.002s", "5.003s", "5.004s", "5.005s", "5.006s", "5.007s"}},
		{2 * time.Second, 2*time.Second + ms, []string{"2.0000s", "2.0002s", "2.0004s", "2.0006s", "2.0008s", "2.0010s"}},
		{0, 30 * time.Microsecond, []string{"0.000000s", "0.000005s", "0.000010s", "0.000015s", "0.000020s", "0.000025s", "0.000030s"}},
	} {
		step, ticks := timeTicks(c.t0, c.t1)
		var got []string
		for _, at := range ticks {
			got = append(got, secondsLabel(at, step))
			assert.True(t, at >= c.t0 && at <= c.t1, "tick %s outside [%s, %s]", at, c.t0, c.t1)
		}
		assert.Equal(t, c.want, got, "span %s to %s (step %s)", c.t0, c.t1, step)
		assert.LessOrEqual(t, len(ticks), maxTicks)
		assert.GreaterOrEqual(t, len(ticks), 4)
	}
}

func TestByteTicksAreRoundStepsOfOneUnit(t *testing.T) {
	for _, c := range []struct {
		vmax int64
		top  int64
		want []string
	}{
		{1, 1, []string{"0 B", "1 B"}},
		{5, 5, []string{"0 B", "1 B", "2 B", "3 B", "4 B", "5 B"}},
		{700, 700, []string{"0 B", "100 B", "200 B", "300 B", "400 B", "500 B", "600 B", "700 B"}},
		{1024, 1024, []string{"0.0 KiB", "0.2 KiB", "0.4 KiB", "0.6 KiB", "0.8 KiB", "1.0 KiB"}},
		{3 << 20, 3 << 20, []string{"0.0 MiB", "0.5 MiB", "1.0 MiB", "1.5 MiB", "2.0 MiB", "2.5 MiB", "3.0 MiB"}},
		{5<<20 + 1, 6 << 20, []string{"0 MiB", "1 MiB", "2 MiB", "3 MiB", "4 MiB", "5 MiB", "6 MiB"}},
		{900 << 20, 1000 << 20, []string{"0 MiB", "200 MiB", "400 MiB", "600 MiB", "800 MiB", "1000 MiB"}},
		{40 << 30, 40 << 30, []string{"0 GiB", "10 GiB", "20 GiB", "30 GiB", "40 GiB"}},
	} {
		top, ticks := byteTicks(c.vmax)
		var got []string
		for _, tk := range ticks {
			got = append(got, tk.Label)
		}
		assert.Equal(t, c.want, got, "vmax %d", c.vmax)
		assert.Equal(t, c.top, top, "top for vmax %d", c.vmax)
		assert.GreaterOrEqual(t, top, c.vmax)
	}
}

func TestNiceStepOfHostileSpans(t *testing.T) {
	for _, span := range []float64{0, -1, 1e-300, 1e300} {
		step := niceStep(span)
		assert.Greater(t, step, 0.0, "span %g", span)
	}
	_, ticks := timeTicks(0, 0)
	assert.Equal(t, []time.Duration{0}, ticks)
	top, _ := byteTicks(1 << 62)
	assert.GreaterOrEqual(t, top, int64(1<<62))
}
