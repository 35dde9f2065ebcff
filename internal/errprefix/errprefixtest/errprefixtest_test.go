package errprefixtest_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/membridge/membridge/internal/errprefix/errprefixtest"
)

func TestCheck(t *testing.T) {
	sentinel := errors.New("no such device")
	errprefixtest.Check(t, "cuda: ", []error{
		fmt.Errorf("cuda: open: device 7 of 1: %w", sentinel),
		fmt.Errorf("cuda: copy: native: use of freed buffer: %w", sentinel),
	}, "native: ")
	inner := &testing.T{}
	errprefixtest.Check(inner, "cuda: ", []error{fmt.Errorf("cuda: open: cuda: %w", sentinel)})
	if !inner.Failed() {
		t.Error("a chain with the prefix twice passed")
	}
}

func TestErrorsCollects(t *testing.T) {
	var errs errprefixtest.Errors
	errs.Add(errors.New("cuda: a"))
	errs.Second(nil, errors.New("cuda: b"))
	if len(errs) != 2 {
		t.Fatalf("collected %d errors, want 2", len(errs))
	}
	errprefixtest.Check(t, "cuda: ", errs)
}
