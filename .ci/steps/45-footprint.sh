#!/usr/bin/env bash
# The bench module's checks. The large-buffer footprint at a small size:
# membridge's large-buffer path must peak at most 1.1x its live bytes
# (bench/cmd/footprint, make footprint-smoke). And the unit tests of the
# bench module's commands, bench/cmd/figures among them (make
# bench-tools-test), which make test (the root module) does not reach.
set -euo pipefail
make footprint-smoke
make bench-tools-test
