// Package pointerfree tells whether values of a Go type may be stored in C
// or device memory: cgo forbids Go pointers there. Packages native and cuda
// both refuse such element types with the one sentinel error here, which
// each exports under its own name (native.ErrPointerType,
// cuda.ErrPointerType), so errors.Is matches either on both.
package pointerfree

import (
	"errors"
	"fmt"
	"reflect"
	"sync"
)

// ErrPointerType means a typed slice was asked for with an element type
// that holds Go pointers, which cgo forbids storing in C memory.
var ErrPointerType = errors.New("membridge: element type contains Go pointers")

var checked sync.Map // reflect.Type -> error (nil: pointer-free)

// Check returns nil if values of type t hold no Go pointers, and otherwise
// an error wrapping ErrPointerType that names the first field that does.
func Check(t reflect.Type) error {
	if v, ok := checked.Load(t); ok {
		err, _ := v.(error)
		return err
	}
	var err error
	if path, kind := findPointer(t, t.String()); path != "" {
		err = fmt.Errorf("%s holds a Go pointer at %s (a %s), and cgo forbids Go pointers in C memory: %w", t, path, kind, ErrPointerType)
	}
	checked.Store(t, err)
	return err
}

func findPointer(t reflect.Type, path string) (string, reflect.Kind) {
	switch t.Kind() {
	case reflect.Pointer, reflect.UnsafePointer, reflect.String, reflect.Slice, reflect.Map,
		reflect.Chan, reflect.Func, reflect.Interface:
		return path, t.Kind()
	case reflect.Array:
		if t.Len() == 0 {
			return "", 0
		}
		return findPointer(t.Elem(), path+"[0]")
	case reflect.Struct:
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if p, k := findPointer(f.Type, path+"."+f.Name); p != "" {
				return p, k
			}
		}
	}
	return "", 0
}
