package directive

import "github.com/membridge/membridge/native"

//membridge:owns c // want `//membridge:owns names c, which is no parameter of f`
func f(b *native.Buffer) { _ = b }

func g() {
	//membridge:owns b // want `//membridge:owns belongs in a function's doc comment`
	b, _ := native.Alloc("x", 1) //membridge:ignore leak // want `//membridge:ignore leak needs a reason after the check's name`
	_ = b
	//membridge:ignore // want `//membridge:ignore needs the check to silence and a reason`
	//membridge:ignore lek typo here // want `//membridge:ignore names an unknown check "lek"`
	//membridge:forget b // want `unknown directive //membridge:forget`
}
