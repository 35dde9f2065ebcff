// Package handle is a stub of membridge's handle package for the analyzers'
// tests (TestStubsMatchTheRealAPI checks the signatures).
package handle

import "unsafe"

type Handle struct{}

func New(tag string, v any) (*Handle, error) { return &Handle{}, nil }
func (h *Handle) Pointer() unsafe.Pointer    { return nil }
func (h *Handle) Release() error             { return nil }
