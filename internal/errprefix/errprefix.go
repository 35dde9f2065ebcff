// Package errprefix keeps membridge's error chains to one package prefix:
// the outermost layer of a package writes "pkg: ", inner layers add context
// only. Within is for the one case a format string cannot handle, a
// function passing on an error another public function of its own package
// returned, prefix included.
package errprefix

import "strings"

// Within returns err under more context: its text is
// prefix + context + ": " + err's text without its leading prefix, so the
// chain keeps one prefix, at the front, and errors.Is and errors.As still
// see err. prefix is the package's, with its colon and space ("cuda: ").
func Within(prefix, context string, err error) error {
	return &withinError{prefix: prefix, context: context, err: err}
}

type withinError struct {
	prefix, context string
	err             error
}

func (e *withinError) Error() string {
	return e.prefix + e.context + ": " + strings.TrimPrefix(e.err.Error(), e.prefix)
}

func (e *withinError) Unwrap() error { return e.err }
