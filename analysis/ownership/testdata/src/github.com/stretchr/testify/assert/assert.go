// Package assert is a stub of testify's assert for the analyzers' tests.
package assert

type TestingT interface {
	Errorf(format string, args ...any)
}

func ErrorIs(t TestingT, err, target error, msgAndArgs ...any) bool { return true }

func False(t TestingT, value bool, msgAndArgs ...any) bool { return true }
