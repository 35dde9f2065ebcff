#!/usr/bin/env bash
# membridgevet over the project, its examples and its tests: every finding
# fails the step unless its line carries //membridge:ignore <check> <reason>
# (docs/membridgevet.md). Its own tests run in step 10's go test.
set -euo pipefail
make vet-ownership
