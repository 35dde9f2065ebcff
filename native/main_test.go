package native

import (
	"testing"

	"github.com/membridge/membridge/tracker/leaktest"
)

func TestMain(m *testing.M) { leaktest.VerifyTestMain(m) }
