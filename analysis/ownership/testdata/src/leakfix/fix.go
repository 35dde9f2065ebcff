package leakfix

import "github.com/membridge/membridge/native"

func f() error {
	b, err := native.Alloc("x", 10) // want `leak: b`
	if err != nil {
		return err
	}
	_ = b.Len()
	return nil
}

func g() {
	a := native.NewArena("x", 0) // want `leak: a`
	_ = a.TryAlloc(1, 1)
}
