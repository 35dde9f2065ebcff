// Package zerovalue holds the test that every handle type of membridge
// passes on its zero value and on a nil pointer: each exported method,
// found by reflection so that a method added later is tested too, is
// called with zero arguments and must neither panic nor succeed, except
// the documented no-ops. It is for tests only.
package zerovalue

import (
	"reflect"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Result is what one method call gave.
type Result struct {
	Err      error // the last result, when it is an error
	HasErr   bool  // the method returns an error
	Panicked any   // what the call panicked with, or nil
}

// CallEveryMethod calls every exported method of recv with zero arguments
// and returns each one's Result by name.
func CallEveryMethod(recv any) map[string]Result {
	v := reflect.ValueOf(recv)
	out := map[string]Result{}
	for i := 0; i < v.NumMethod(); i++ {
		fn := v.Method(i)
		ft := fn.Type()
		n := ft.NumIn()
		if ft.IsVariadic() {
			n--
		}
		args := make([]reflect.Value, n)
		for j := range args {
			args[j] = reflect.Zero(ft.In(j))
		}
		out[v.Type().Method(i).Name] = call(fn, args)
	}
	return out
}

func call(fn reflect.Value, args []reflect.Value) (r Result) {
	defer func() { r.Panicked = recover() }()
	res := fn.Call(args)
	if k := len(res); k > 0 && res[k-1].Type() == reflect.TypeFor[error]() {
		r.HasErr = true
		r.Err, _ = res[k-1].Interface().(error)
	}
	return r
}

// Check asserts that no method of recv panics and that each method that
// returns an error returns one wrapping invalid, except the methods named
// in noop, which must return nil (documented no-ops).
func Check(t *testing.T, name string, recv any, invalid error, noop ...string) {
	t.Helper()
	results := CallEveryMethod(recv)
	require.NotEmpty(t, results, "%s has no exported methods", name)
	for m, r := range results {
		if !assert.Nil(t, r.Panicked, "%s.%s panicked", name, m) || !r.HasErr {
			continue
		}
		if slices.Contains(noop, m) {
			assert.NoError(t, r.Err, "%s.%s is a documented no-op", name, m)
			continue
		}
		assert.ErrorIs(t, r.Err, invalid, "%s.%s", name, m)
	}
}
