# membridgevet: membridge's ownership rules checked before the program runs
# (docs/membridgevet.md), over the whole module, its examples and its tests.
.PHONY: vet-ownership membridgevet-test
vet-ownership:
	$(GO) run ./cmd/membridgevet ./...

membridgevet-test:
	$(GO) test -race -count=1 ./analysis/... ./cmd/membridgevet/...
