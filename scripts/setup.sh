#!/usr/bin/env bash
# Installs the Debian 12 packages imagefit needs (idempotent, non-interactive).
# Usage: scripts/setup.sh [--test]   (--test also installs what the test suite uses)
set -euo pipefail
want_test=0
[[ "${1:-}" == "--test" ]] && want_test=1

pkgs=(build-essential cmake pkg-config
      libtorch-dev libopencv-dev libhdf5-dev libopenblas0-pthread
      libcli11-dev nlohmann-json3-dev libcpp-httplib-dev libssl-dev libcurl4-openssl-dev libgloo-dev
      libcairo2-dev libonnx-dev libprotobuf-dev libzip-dev libgtest-dev)
if (( want_test )); then
  pkgs+=(python3-torch python3-torchvision python3-numpy python3-h5py python3-onnx chromium wrk)
  # The sanitizer + fuzz build (cmake/sanitize.cmake): clang with its ASan/UBSan/libFuzzer runtimes.
  pkgs+=(clang libclang-rt-14-dev)
fi

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if (( ${#missing[@]} )); then
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "setup: all packages present"
fi
