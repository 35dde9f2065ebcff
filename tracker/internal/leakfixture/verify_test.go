package leakfixture_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/membridge/membridge/tracker/internal/leakfixture"
)

// These tests run the scenarios of scenarios_test.go in a child process of
// this binary, a package without TestMain, where leaktest.VerifyNone is the
// only check, and assert what a user of go test would see.

func TestVerifyNoneAloneFailsTheTestsThatLeakAndNoOther(t *testing.T) {
	leakfixture.CheckPerTestBlame(t)
}

func TestVerifyNoneAloneMissesAGoroutineThatAllocatesAfterItsTest(t *testing.T) {
	out, code := leakfixture.Run(t, nil, "-test.v", "-test.run=^TestFixtureOutlive")
	results, _ := leakfixture.Outcomes(out)
	require.Equal(t, map[string]string{"TestFixtureOutliveStart": "PASS", "TestFixtureOutliveLater": "PASS"}, results, out)
	// Without VerifyTestMain nothing checks the package at the end: the
	// memory OutliveStart's goroutine made after its test is not reported.
	assert.Equal(t, 0, code, out)
	assert.NotContains(t, out, "membridge: LEAK")
}

func TestVerifyNoneAloneMissesADropInATestWithoutIt(t *testing.T) {
	out, code := leakfixture.Run(t, nil, "-test.v", "-test.run=^TestFixture(DroppedUnchecked|CleanAfterLeaks)$")
	results, _ := leakfixture.Outcomes(out)
	// Neither test is blamed, and without VerifyTestMain nothing checks the
	// run: the drop is only logged, if a collection finds it before exit.
	require.Equal(t, map[string]string{"TestFixtureDroppedUnchecked": "PASS", "TestFixtureCleanAfterLeaks": "PASS"}, results, out)
	assert.Equal(t, 0, code, out)
}

func TestVerifyNoneAloneLetsAnIgnoredTagLeak(t *testing.T) {
	out, code := leakfixture.Run(t, nil, "-test.v", "-test.run=^TestFixture(IgnoredTagKept|CleanAfterLeaks)$")
	results, _ := leakfixture.Outcomes(out)
	require.Equal(t, map[string]string{"TestFixtureIgnoredTagKept": "PASS", "TestFixtureCleanAfterLeaks": "PASS"}, results, out)
	assert.Equal(t, 0, code, out)
	assert.NotContains(t, out, "membridge: LEAK")
}

func TestTestBinaryStartsInTheTestModeButBenchmarksDoNot(t *testing.T) {
	out, _ := leakfixture.Run(t, nil, "-test.v", "-test.run=^TestFixtureMode$")
	assert.Contains(t, out, "mode: stackrate=1 policy=fail", out)
	out, _ = leakfixture.Run(t, nil, "-test.run=^$", "-test.bench=^BenchmarkFixtureMode$", "-test.benchtime=1x")
	assert.Contains(t, out, "mode: stackrate=524288 policy=free", out)
	out, _ = leakfixture.Run(t, []string{"MEMBRIDGE_TRACK=off", "MEMBRIDGE_LEAKS=report"}, "-test.v", "-test.run=^TestFixtureMode$")
	assert.Contains(t, out, "mode: stackrate=0 policy=report", out)
	// Values that do not parse are reported, and the production defaults kept.
	out, _ = leakfixture.Run(t, []string{"MEMBRIDGE_TRACK=everything", "MEMBRIDGE_LEAKS=explode"}, "-test.v", "-test.run=^TestFixtureMode$")
	assert.Contains(t, out, `membridge: MEMBRIDGE_TRACK="everything": want off, sample, sample:<bytes> or all; using the sampled mode`)
	assert.Contains(t, out, `membridge: MEMBRIDGE_LEAKS="explode": want free, report or fail; using free`)
	assert.Contains(t, out, "mode: stackrate=524288 policy=free", out)
}

func TestLeakPoliciesUnderVerifyNoneAlone(t *testing.T) {
	for _, tc := range []struct {
		env, result string
		want        []string
	}{
		// the test mode's default: reclaimed, and the test fails
		// (and, without VerifyTestMain, its site is logged too)
		{"MEMBRIDGE_LEAKS=fail", "FAIL", []string{"1 dropped without Free", "leakfixture.dropOne", "membridge: handle dropped without Free"}},
		// memory left allocated, record marked dropped: the test fails
		{"MEMBRIDGE_LEAKS=report", "FAIL", []string{"1 dropped without Free", "leakfixture.dropOne"}},
		// reclaimed and logged, as the user asked: the test passes
		{"MEMBRIDGE_LEAKS=free", "PASS", []string{"membridge: handle dropped without Free", "tag=dropped"}},
		// no stacks: still the dropping test's, named without a site
		{"MEMBRIDGE_TRACK=off", "FAIL", []string{"1 dropped without Free", "(no stack: set MEMBRIDGE_TRACK=all"}},
	} {
		t.Run(tc.env, func(t *testing.T) {
			out, _ := leakfixture.Run(t, []string{tc.env}, "-test.v", "-test.run=^TestFixtureDropped$")
			results, _ := leakfixture.Outcomes(out)
			require.Equal(t, tc.result, results["TestFixtureDropped"], out)
			for _, w := range tc.want {
				assert.Contains(t, out, w)
			}
		})
	}
}
