#!/usr/bin/env bash
# Headless Chromium for the timeline page's browser test
# (tracker/timeline TestPageShowsThePlotInChromium), installed when missing,
# then that test run with MEMBRIDGE_REQUIRE_CHROMIUM=1, so it fails rather
# than skips if the browser is not there. make test (step 10) skips it
# wherever Chromium is absent, CI or not.
set -euo pipefail

bash .ci/apt-need.sh chromium chromium
chromium --version
MEMBRIDGE_REQUIRE_CHROMIUM=1 go test -count=1 -run 'Chromium' -v ./tracker/timeline/ | grep -E '^(--- |ok|FAIL|PASS)'
