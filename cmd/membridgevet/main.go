// Command membridgevet checks membridge's ownership rules before the program
// runs: handles not freed on some path, uses after Free, slices kept past
// their handle, double frees, and Go pointers in C memory.
//
// Run it alone or as go vet's tool:
//
//	go run github.com/membridge/membridge/cmd/membridgevet ./...
//	go vet -vettool=$(go env GOPATH)/bin/membridgevet ./...
//
// Each check is a flag (-leak, -useafterfree, -keptslice, -doublefree,
// -gopointer): naming some runs only those, -NAME=false turns one off. -json
// prints the findings as JSON; -fix applies the suggested fixes. The exit
// status is 0 with no findings, 3 with findings (1 for other errors), as
// with any go/analysis checker. docs/membridgevet.md describes the checks
// and the //membridge:owns and //membridge:ignore directives.
package main

import (
	"golang.org/x/tools/go/analysis/multichecker"

	"github.com/membridge/membridge/analysis/ownership"
)

func main() { multichecker.Main(ownership.Analyzers...) }
