package leaktest

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestVerifyWithNilPanicsWithAMessage(t *testing.T) {
	const none = "membridge: VerifyNone needs the test's *testing.T (or a TestingT), got nil"
	assert.PanicsWithValue(t, none, func() { VerifyNone(nil) })
	assert.PanicsWithValue(t, none, func() { VerifyNone((*testing.T)(nil)) })
	const main = "membridge: VerifyTestMain needs TestMain's *testing.M (or a TestingM), got nil"
	assert.PanicsWithValue(t, main, func() { VerifyTestMain(nil) })
	assert.PanicsWithValue(t, main, func() { VerifyTestMain((*testing.M)(nil)) })
}
