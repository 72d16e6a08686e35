#!/usr/bin/env bash
# The README's second command: installs what the tests need, builds, runs the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test
scripts/build.sh -DIMAGEFIT_BUILD_TESTS=ON
(cd build && ctest --output-on-failure -j"$(nproc)")

# Then the loaders (model file, .h5, .pth/pickle), image decoding, split, check and the server's
# connection handling once more under AddressSanitizer + UndefinedBehaviorSanitizer, and each
# libFuzzer target for a few seconds on its seeds: one clang build of that subset in build-asan/
# (cmake/sanitize.cmake, docs/RELIABILITY.md "Fuzzing and sanitizers").
# About 3 min to build and 1.5 min to test on 2 cores. ASan options: detect_leaks=0, LibTorch and
# OpenCV keep allocations until exit on purpose (registries, thread pools), which LeakSanitizer
# reports by the hundred; abort_on_error=1, a report ends the test program at once.
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Release -DIMAGEFIT_BUILD_TESTS=ON -DIMAGEFIT_FUZZ=ON \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ >/dev/null
cmake --build build-asan --target test_data test_weights test_http fuzz_targets -j"$(nproc)"
cd build-asan
ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 \
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --output-on-failure -j"$(nproc)"
