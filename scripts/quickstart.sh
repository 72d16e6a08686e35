#!/usr/bin/env bash
# The README's first command: installs what is needed, builds, splits the shipped sample dataset
# (hand-sign digits) and trains on it with imagefit's defaults (transfer learning from the embedded
# MobileNet V1-0.25 backbone, the plan printed first), printing the test accuracy.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh -DIMAGEFIT_BUILD_TESTS=OFF   # the library and the binary only (scripts/test.sh builds the tests)
work="${IMAGEFIT_QUICKSTART_DIR:-out/quickstart}"
rm -rf "$work" && mkdir -p "$work"
build/imagefit split data/sample-sign-digits "$work/data" --val 0.2 --test 0.2 --seed 0
build/imagefit train "$work/data" -o "$work/sign-digits.imagefit" --seed 0
build/imagefit evaluate "$work/sign-digits.imagefit" "$work/data/test" --mistakes 3 --report "$work/report"
