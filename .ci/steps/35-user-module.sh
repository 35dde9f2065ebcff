#!/usr/bin/env bash
# A user's module runs its cuda-tagged tests on the stand-in driver by the
# documented steps (cmd/fakecuda env, go test -tags cuda), and a planted
# device leak in it is reported (make user-module-test). Needs cuda.h.
set -euo pipefail

bash .ci/install-cuda.sh

make user-module-test
