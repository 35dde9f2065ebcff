package withmain_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/membridge/membridge/tracker/internal/leakfixture"
)

// These tests run the scenarios of scenarios_test.go in a child process of
// this binary, under leaktest.VerifyTestMain, and assert what a user of
// go test would see: the same per-test results as with VerifyNone alone
// (package leakfixture), and the check of the whole run at the end.

func TestVerifyNoneUnderVerifyTestMainFailsTheTestsThatLeakAndNoOther(t *testing.T) {
	out := leakfixture.CheckPerTestBlame(t)
	// The run's check reports the drops; the safety net does not log them.
	assert.NotContains(t, out, "membridge: handle dropped without Free")
}

func TestVerifyTestMainFailsTheRunForMemoryAGoroutineMadeAfterItsTest(t *testing.T) {
	out, code := leakfixture.Run(t, nil, "-test.v", "-test.run=^TestFixtureOutlive")
	results, _ := leakfixture.Outcomes(out)
	require.Equal(t, map[string]string{"TestFixtureOutliveStart": "PASS", "TestFixtureOutliveLater": "PASS"}, results, out)
	assert.Equal(t, 1, code, out)
	assert.Contains(t, out, "membridge: LEAK of 48 bytes in 1 allocation from 1 site")
	assert.Contains(t, out, `tag "outlived"`)
	assert.Contains(t, out, "leakfixture.OutliveStart.func1")
}

func TestVerifyTestMainFailsTheRunForADropInATestWithoutVerifyNone(t *testing.T) {
	out, code := leakfixture.Run(t, nil, "-test.v", "-test.run=^TestFixture(DroppedUnchecked|CleanAfterLeaks)$")
	results, _ := leakfixture.Outcomes(out)
	require.Equal(t, map[string]string{"TestFixtureDroppedUnchecked": "PASS", "TestFixtureCleanAfterLeaks": "PASS"}, results, out)
	assert.Equal(t, 1, code, out)
	assert.Contains(t, out, `tag "dropped-unchecked"`)
	assert.Contains(t, out, "1 dropped without Free")
	assert.Contains(t, out, "made by TestFixtureDroppedUnchecked")
}

func TestVerifyTestMainFailsTheRunForALeakUnderAnIgnoredTag(t *testing.T) {
	out, code := leakfixture.Run(t, nil, "-test.v", "-test.run=^TestFixture(IgnoredTagKept|CleanAfterLeaks)$")
	results, _ := leakfixture.Outcomes(out)
	require.Equal(t, map[string]string{"TestFixtureIgnoredTagKept": "PASS", "TestFixtureCleanAfterLeaks": "PASS"}, results, out)
	assert.Equal(t, 1, code, out)
	assert.Contains(t, out, "membridge: LEAK of 72 bytes in 1 allocation from 1 site")
	assert.Contains(t, out, `tag "ignored-kept"`)
}

func TestVerifyTestMainKeepsTheTestModeForTestsAndNotForBenchmarks(t *testing.T) {
	out, _ := leakfixture.Run(t, nil, "-test.v", "-test.run=^TestFixtureMode$")
	assert.Contains(t, out, "mode: stackrate=1 policy=fail", out)
	out, _ = leakfixture.Run(t, nil, "-test.run=^$", "-test.bench=^BenchmarkFixtureMode$", "-test.benchtime=1x")
	assert.Contains(t, out, "mode: stackrate=524288 policy=free", out)
	out, _ = leakfixture.Run(t, []string{"MEMBRIDGE_TRACK=off", "MEMBRIDGE_LEAKS=report"}, "-test.v", "-test.run=^TestFixtureMode$")
	assert.Contains(t, out, "mode: stackrate=0 policy=report", out)
	// MEMBRIDGE_TRACK set by TestMain, after the ledger's init, counts too.
	out, _ = leakfixture.Run(t, []string{trackEnv + "=sample"}, "-test.v", "-test.run=^TestFixtureMode$")
	assert.Contains(t, out, "mode: stackrate=524288 policy=fail", out)
}

// Without attribution VerifyNone blames every live allocation on the test
// that calls it; still, a leak fails only the first test that reports it.
func TestWithoutAttributionAKeptLeakFailsOnlyItsOwnTest(t *testing.T) {
	out, code := leakfixture.Run(t, []string{noAttributionEnv + "=1"}, "-test.v",
		"-test.run=^TestFixture(Kept|CleanAfterLeaks|Mode)$")
	results, output := leakfixture.Outcomes(out)
	require.Equal(t, map[string]string{
		"TestFixtureKept":            "FAIL",
		"TestFixtureCleanAfterLeaks": "PASS",
		"TestFixtureMode":            "PASS",
	}, results, out)
	assert.Equal(t, 1, code)
	assert.Contains(t, output["TestFixtureKept"], `tag "kept"`)
}
