#!/usr/bin/env bash
# Lint: go vet and staticcheck v0.8.2 (make lint, mk/lint.mk) with no findings.
set -euo pipefail
make lint
