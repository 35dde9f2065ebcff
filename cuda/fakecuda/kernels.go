//go:build cuda

package fakecuda

/*
#cgo CFLAGS: -Wall -Wextra -O2
#cgo LDFLAGS: -ldl
#include "kernels.h"
*/
import "C"

import (
	"errors"

	// The C reference kernels this package registers with the stand-in.
	_ "github.com/membridge/membridge/cuda/internal/refkernels"
)

// SelfTestKernel is the name of a kernel the package registers for testing
// the stand-in's launch path itself:
//
//	mbfake_selftest_iota_u32(uint32_t *out, uint64_t n, uint32_t start)
//
// sets out[i] = start + i for i < n with a grid-stride loop over gx*bx
// threads (1-D launches only).
const SelfTestKernel = "mbfake_selftest_iota_u32"

// RegisteredKernels reports how many kernels the package registered with
// the stand-in when the program started: the reference kernels of
// cuda/internal/refkernels plus SelfTestKernel. It is 0 on another
// driver, and an error says which registration the stand-in refused.
func RegisteredKernels() (int, error) {
	if C.mbfake_registration_failed != nil {
		return int(C.mbfake_registered), errors.New("fakecuda: the stand-in refused kernel " + C.GoString(C.mbfake_registration_failed))
	}
	return int(C.mbfake_registered), nil
}
