package withmain_test

import (
	"os"
	"testing"

	"github.com/membridge/membridge/tracker"
)

// noAttributionEnv makes the child run under WithoutAttribution.
const noAttributionEnv = "LEAKFIXTURE_WITHOUT_ATTRIBUTION"

func TestMain(m *testing.M) {
	var opts []tracker.Option
	if os.Getenv(noAttributionEnv) != "" {
		opts = append(opts, tracker.WithoutAttribution())
	}
	tracker.VerifyTestMain(m, opts...)
}
