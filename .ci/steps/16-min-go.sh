#!/usr/bin/env bash
# The default packages built and tested with the minimum Go that go.mod
# names (make min-go, mk/lint.mk); the go command fetches that toolchain
# through the module proxy.
set -euo pipefail
make min-go
