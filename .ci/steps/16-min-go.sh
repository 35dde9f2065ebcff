#!/usr/bin/env bash
# The default packages built and tested with the minimum Go that go.mod
# names (make min-go, mk/lint.mk); the go command fetches that toolchain
# through the module proxy.
set -euo pipefail
# Warnings are errors with the current Go only (.ci/run sets CGO_CFLAGS):
# the minimum Go's cgo generates code that warns (go1.24's //export
# wrappers have unused parameters), which users of that Go get as warnings.
CGO_CFLAGS="-O2 -g" make min-go
