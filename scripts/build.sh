#!/usr/bin/env bash
# Configures and builds imagefit (Release) into build/. Extra arguments go to CMake's configure step,
# e.g. scripts/build.sh -DCMAKE_PREFIX_PATH=/opt/libtorch-cuda
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
cmake --build build -j"$(nproc)"
