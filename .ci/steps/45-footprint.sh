#!/usr/bin/env bash
# The large-buffer footprint at a small size: membridge's large-buffer path
# must peak at most 1.1x its live bytes (bench/cmd/footprint, make footprint-smoke).
set -euo pipefail
make footprint-smoke
