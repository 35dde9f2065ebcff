package batch_test

import (
	"testing"

	"github.com/membridge/membridge/batch"
	"github.com/membridge/membridge/cext/leakcheck"
	"github.com/membridge/membridge/internal/errprefix/errprefixtest"
	"github.com/membridge/membridge/native"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The errors a Result returns start with the package's prefix and carry it
// once; the buffer's own error (package native) follows as context.
func TestErrorsHaveOnePrefix(t *testing.T) {
	defer leakcheck.Check(t)
	r, err := batch.Filter([]batch.Record{{ID: 1, Value: 1}}, 0, 2)
	require.NoError(t, err)
	require.NoError(t, r.Free())
	//membridge:ignore doublefree the test provokes this misuse on purpose, to read the error it returns
	errs := []error{r.Free()}
	func() {
		defer func() {
			e, _ := recover().(error)
			errs = append(errs, e)
		}()
		r.Records()
	}()
	for _, err := range errs {
		assert.ErrorIs(t, err, native.ErrFreed)
	}
	errprefixtest.Check(t, "batch: ", errs, "native: ")
}
