package tracker_test

import (
	"testing"

	"github.com/membridge/membridge/tracker"
)

func TestMain(m *testing.M) { tracker.VerifyTestMain(m) }
