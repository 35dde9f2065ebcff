//go:build cuda

package recycle_test

import "github.com/membridge/membridge/cuda/fakecuda"

// Under the cuda tag the stand-in driver (cuda/fakecuda) must hold
// nothing once the tests closed their contexts: a leak oracle independent
// of the ledger.
func init() { afterTests = append(afterTests, fakecuda.HoldsNothing) }
