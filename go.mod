module github.com/membridge/membridge

go 1.24

require (
	github.com/google/uuid v1.1.1 // indirect
	github.com/mattn/go-pointer v0.0.1 // indirect
	github.com/pkg/errors v0.9.1 // indirect
	github.com/stretchr/testify v1.12.1 // indirect
	gorgonia.org/cu v0.9.6 // indirect
)
