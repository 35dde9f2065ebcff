package batch_test

import (
	"fmt"

	"github.com/membridge/membridge/batch"
)

func ExampleFilter() {
	in := []batch.Record{{ID: 1, Value: 0.2}, {ID: 2, Value: 0.7}, {ID: 3, Value: 0.9}}
	res, err := batch.Filter(in, 0.5, 0.8)
	if err != nil {
		panic(err)
	}
	defer res.Free()
	for _, r := range res.Records() {
		fmt.Println(r.ID, r.Value)
	}
	// Output: 2 0.7
}

func ExampleProcess() {
	in := []batch.Record{{ID: 1, Value: 3}, {ID: 2, Value: 1}, {ID: 3, Value: 2}}
	res, err := batch.Process(in, 1, 2)
	if err != nil {
		panic(err)
	}
	fmt.Println(res.Len(), "kept; the result holds the whole working block:", res.Bytes(), "bytes")
	for _, r := range res.Records() {
		fmt.Println(r.ID)
	}
	res.Free() // releases the working block, not the view
	// Output:
	// 2 kept; the result holds the whole working block: 64 bytes
	// 2
	// 3
}
