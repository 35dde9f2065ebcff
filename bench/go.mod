module github.com/membridge/membridge/bench

go 1.25.0

replace github.com/membridge/membridge => ../

require (
	github.com/apache/arrow-go/v18 v18.8.0
	github.com/dgraph-io/ristretto/v2 v2.4.2
	github.com/membridge/membridge v0.0.0-00010101000000-000000000000
)

require (
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/dustin/go-humanize v1.0.1 // indirect
	golang.org/x/sys v0.47.0 // indirect
)
