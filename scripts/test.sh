#!/usr/bin/env bash
# The README's second command: installs what the tests need, builds, runs the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test
scripts/build.sh
cd build && ctest --output-on-failure -j"$(nproc)"
