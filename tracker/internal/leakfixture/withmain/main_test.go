package withmain_test

import (
	"os"
	"testing"

	"github.com/membridge/membridge/tracker"
)

const (
	// noAttributionEnv makes the child run under WithoutAttribution.
	noAttributionEnv = "LEAKFIXTURE_WITHOUT_ATTRIBUTION"
	// trackEnv is copied to MEMBRIDGE_TRACK by TestMain, after the ledger's
	// package init and before VerifyTestMain.
	trackEnv = "LEAKFIXTURE_TRACK"
)

func TestMain(m *testing.M) {
	if v := os.Getenv(trackEnv); v != "" {
		os.Setenv("MEMBRIDGE_TRACK", v)
	}
	var opts []tracker.Option
	if os.Getenv(noAttributionEnv) != "" {
		opts = append(opts, tracker.WithoutAttribution())
	}
	tracker.VerifyTestMain(m, opts...)
}
