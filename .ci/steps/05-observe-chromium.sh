#!/usr/bin/env bash
# Headless Chromium for the timeline page's browser test
# (tracker/timeline TestPageShowsThePlotInChromium). Step 10's go test runs
# that test and, with CI=true, fails without a browser, so this step comes
# before it. Skipped when chromium is already installed.
set -euo pipefail

if command -v chromium >/dev/null 2>&1; then
	exit 0
fi
sudo=
[ "$(id -u)" -eq 0 ] || sudo=sudo
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends chromium >/dev/null
chromium --version
