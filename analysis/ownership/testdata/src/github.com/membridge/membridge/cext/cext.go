// Package cext is a stub of membridge's cext package for the analyzers'
// tests (TestStubsMatchTheRealAPI checks the signatures).
package cext

import (
	"unsafe"

	"github.com/membridge/membridge/native"
)

func Alloc(tag string, n int) (*native.Buffer, error)  { return nil, nil }
func HandToC(b *native.Buffer) (unsafe.Pointer, error) { return nil, nil }
