#!/usr/bin/env bash
# The README's second command: installs what the tests need, builds, runs the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test
scripts/build.sh -DIMAGEFIT_BUILD_TESTS=ON
cd build && ctest --output-on-failure -j"$(nproc)"
