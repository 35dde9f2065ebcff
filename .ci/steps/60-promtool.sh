#!/usr/bin/env bash
# The monitoring files: promtool check rules and promtool test rules on
# monitoring/alerts.yml, and the Go tests that check the dashboard's and the
# rules' metrics against promcollector's (make promtool, mk/lint.mk).
# Installs Debian's prometheus package, which ships promtool, when missing.
set -euo pipefail

if ! command -v promtool >/dev/null 2>&1; then
	sudo=
	[ "$(id -u)" -eq 0 ] || sudo=sudo
	export DEBIAN_FRONTEND=noninteractive
	$sudo apt-get update -qq
	$sudo apt-get install -y -qq --no-install-recommends prometheus >/dev/null
fi
promtool --version | head -1
make promtool
