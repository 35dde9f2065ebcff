#!/usr/bin/env bash
# The monitoring files: promtool check rules and promtool test rules on
# monitoring/alerts.yml, and the Go tests that check the dashboard's and the
# rules' metrics against promcollector's (make promtool, mk/lint.mk).
# Installs Debian's prometheus package, which ships promtool, when missing.
set -euo pipefail

bash .ci/apt-need.sh promtool prometheus
promtool --version | head -1
make promtool
