#!/usr/bin/env bash
# Every fuzz target in the module, each for a bounded time (FUZZTIME, 15 s
# by default), on top of its seed corpus, which make test already runs as
# plain tests. A target is found by its declaration, so a new one is fuzzed
# without editing this step.
set -euo pipefail
fuzztime=${FUZZTIME:-15s}
grep -rl --include='*_test.go' '^func Fuzz' . | sort | while read -r file; do
	dir=$(dirname "$file")
	for target in $(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' "$file"); do
		echo "--- $target in $dir ($fuzztime)"
		go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$dir"
	done
done
