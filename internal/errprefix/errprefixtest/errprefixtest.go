// Package errprefixtest checks the rule package errprefix keeps: every error
// chain a package returns starts with its prefix and carries it once.
package errprefixtest

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Errors collects the errors a test provokes, for Check.
type Errors []error

// Add appends err.
func (e *Errors) Add(err error) { *e = append(*e, err) }

// Second appends the error of a call that returns a value and an error:
// errs.Second(pkg.Open(...)).
func (e *Errors) Second(_ any, err error) { e.Add(err) }

// Check asserts that each of errs is an error whose text starts with
// prefix ("cuda: ") and holds it once, and that no other prefix of others
// appears more than once (an error another package returned, passed on as
// context, keeps that package's prefix, once). The texts are logged, for
// reading with -v.
func Check(t testing.TB, prefix string, errs []error, others ...string) {
	t.Helper()
	for i, err := range errs {
		require.Error(t, err, "error %d", i)
		msg := err.Error()
		t.Log(msg)
		assert.True(t, strings.HasPrefix(msg, prefix), "error %d does not start with %q: %s", i, prefix, msg)
		assert.Equal(t, 1, strings.Count(msg, prefix), "error %d: %q more than once: %s", i, prefix, msg)
		for _, o := range others {
			assert.LessOrEqual(t, strings.Count(msg, o), 1, "error %d: %q more than once: %s", i, o, msg)
		}
	}
}
