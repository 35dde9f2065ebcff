// Package require is a stub of testify's require for the analyzers' tests.
package require

type TestingT interface {
	Errorf(format string, args ...any)
	FailNow()
}

func Error(t TestingT, err error, msgAndArgs ...any)           {}
func ErrorIs(t TestingT, err, target error, msgAndArgs ...any) {}
func NoError(t TestingT, err error, msgAndArgs ...any)         {}
