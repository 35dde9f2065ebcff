package tracker

// kindCHeap is the kind the internal tests allocate (the external tests
// register the same name).
var kindCHeap = func() Kind {
	k, err := RegisterKind("c-heap")
	if err != nil {
		panic(err)
	}
	return k
}()
