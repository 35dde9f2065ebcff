package cuda

import (
	"errors"
	"testing"
)

func TestDriverError(t *testing.T) {
	cases := []struct {
		code int
		want error
	}{
		{codeOutOfMemory, ErrOutOfMemory},
		{codeNoDevice, ErrNoDevice},
		{codeInvalidDev, ErrNoDevice},
		{codeNotSupported, ErrNotSupported},
		{codeInvalidValue, ErrInvalidArgument},
		{700, nil}, // CUDA_ERROR_ILLEGAL_ADDRESS: nothing to branch on
	}
	for _, c := range cases {
		err := error(&DriverError{Call: "cuMemAlloc", Code: c.code, Name: "X"})
		if c.want != nil && !errors.Is(err, c.want) {
			t.Errorf("code %d: not %v", c.code, c.want)
		}
		if c.want == nil && errors.Unwrap(err) != nil {
			t.Errorf("code %d unwraps to %v", c.code, errors.Unwrap(err))
		}
		var de *DriverError
		if !errors.As(err, &de) || de.Code != c.code {
			t.Errorf("code %d: errors.As failed", c.code)
		}
	}
	if got := (&DriverError{Call: "cuMemAlloc", Code: 2, Name: "CUDA_ERROR_OUT_OF_MEMORY"}).Error(); got != "cuMemAlloc: CUDA_ERROR_OUT_OF_MEMORY (2)" {
		t.Errorf("Error() = %q", got)
	}
}
