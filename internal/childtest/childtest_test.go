package childtest_test

import (
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/membridge/membridge/internal/childtest"
)

func TestAloneRunsTheTestInAChildWithItsEnvironment(t *testing.T) {
	if !childtest.Alone(t, "CHILDTEST_PROBE=42") {
		assert.False(t, childtest.InAnyChild(), "the parent is not a child")
		return
	}
	assert.True(t, childtest.InAnyChild())
	assert.Equal(t, "42", os.Getenv("CHILDTEST_PROBE"))
}

func TestRunReturnsAFailingChildsOutput(t *testing.T) {
	if childtest.InChild(t) {
		t.Fatal("failing on purpose")
	}
	out, err := childtest.Run(t)
	require.Error(t, err)
	assert.Contains(t, out, "failing on purpose")
	assert.Contains(t, out, "--- FAIL: "+t.Name())
}
