#!/usr/bin/env bash
# Runs one libFuzzer target for SECONDS on a copy of its seed corpus; prints the executions done.
# Usage: fuzz/run.sh FUZZ_BINARY SECONDS SEED_CORPUS_DIR [libFuzzer options...]
# ctest runs each target for a few seconds; a longer run, e.g. 10 minutes of the .pth reader:
#   fuzz/run.sh build-asan/fuzz/fuzz_pth 600 fuzz/corpus/pth
# A dictionary beside this script named after the target (fuzz/http_request.dict for fuzz_http_request)
# is used when there is one.
# A finding is written as crash-*/leak-*/timeout-*/oom-* into the work folder printed at the end
# (reproduce with: FUZZ_BINARY FILE).
set -euo pipefail
bin=$1 seconds=$2 seeds=$3
shift 3
[[ -x "$bin" ]] || { echo "fuzz: $bin is not built (configure with -DIMAGEFIT_FUZZ=ON)"; exit 77; }
dict="$(dirname "$0")/$(basename "$bin" | sed 's/^fuzz_//').dict"
[[ -f "$dict" ]] && set -- -dict="$dict" "$@"
work=$(mktemp -d "${TMPDIR:-/tmp}/imagefit-fuzz.XXXXXX")
mkdir -p "$work/corpus"
# New inputs go to the work corpus; the committed seeds are only read. Leak checking is off:
# LibTorch and OpenCV keep allocations alive until exit on purpose (thread pools, registries).
# -rss_limit_mb: an input that makes the loader allocate gigabytes is a finding (an OOM), not a hang.
set +e
"$bin" -max_total_time="$seconds" -timeout=20 -rss_limit_mb=3072 -detect_leaks=0 -print_final_stats=1 \
  -artifact_prefix="$work/" "$@" "$work/corpus" "$seeds" >"$work/log" 2>&1
rc=$?
set -e
grep -E "^(Done|stat::number_of_executed_units)" "$work/log" || true
if (( rc != 0 )); then
  tail -n 60 "$work/log"
  echo "fuzz: $(basename "$bin") FAILED (exit $rc); inputs and log kept in $work"
  exit 1
fi
echo "fuzz: $(basename "$bin"): no finding in ${seconds}s ($(ls "$work/corpus" | wc -l) new corpus inputs)"
rm -rf "$work"
