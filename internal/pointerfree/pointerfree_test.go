package pointerfree

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	type point struct{ X, Y float64 }
	type inner struct{ N []int }
	type outer struct {
		A  int
		In [2]inner
	}
	for _, typ := range []reflect.Type{reflect.TypeFor[float32](), reflect.TypeFor[point](), reflect.TypeFor[[0]*int](), reflect.TypeFor[[4]uint8]()} {
		if err := Check(typ); err != nil {
			t.Errorf("Check(%s) = %v, want nil", typ, err)
		}
	}
	cases := []struct {
		typ  reflect.Type
		want string
	}{
		{reflect.TypeFor[*int](), "*int holds a Go pointer at *int (a ptr)"},
		{reflect.TypeFor[string](), "at string (a string)"},
		{reflect.TypeFor[outer](), "at pointerfree.outer.In[0].N (a slice)"},
		{reflect.TypeFor[any](), "(a interface)"},
	}
	for _, c := range cases {
		for range 2 { // the second answer comes from the cache
			err := Check(c.typ)
			if !errors.Is(err, ErrPointerType) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Check(%s) = %v, want ErrPointerType mentioning %q", c.typ, err, c.want)
			}
		}
	}
}
