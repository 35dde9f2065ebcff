//go:build cuda

package recycle_test

import (
	"errors"
	"os"

	"github.com/membridge/membridge/internal/fakecuda"
)

// Under the cuda tag the stand-in driver (internal/fakecuda) must hold
// nothing once the tests closed their contexts: a leak oracle independent
// of the ledger.
func init() {
	afterTests = append(afterTests, func() error {
		c, ok := fakecuda.Read()
		if !ok {
			if os.Getenv("MEMBRIDGE_FAKECUDA") == "1" {
				return errors.New("MEMBRIDGE_FAKECUDA=1 but libcuda.so.1 is not the stand-in")
			}
			return nil
		}
		return c.Idle()
	})
}
