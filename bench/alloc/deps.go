package alloc

// The libraries compared with membridge. They are imported here, in a
// module of their own, so that membridge itself never requires them.
import (
	_ "github.com/apache/arrow-go/v18/arrow/memory"
	_ "github.com/apache/arrow-go/v18/arrow/memory/mallocator"
	_ "github.com/dgraph-io/ristretto/v2/z"
	_ "github.com/membridge/membridge/native"
)
