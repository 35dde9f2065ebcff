package withmain_test

import (
	"os"
	"testing"

	"github.com/membridge/membridge/tracker/leaktest"
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
	var opts []leaktest.Option
	if os.Getenv(noAttributionEnv) != "" {
		opts = append(opts, leaktest.WithoutAttribution())
	}
	leaktest.VerifyTestMain(m, opts...)
}
