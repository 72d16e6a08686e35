#!/usr/bin/env bash
# Single-client latency of `imagefit serve`: starts the server on 127.0.0.1, then
# bench/serve_latency.py POSTs one image to /api/predict N times over ONE kept-alive connection and N
# times on a fresh connection each (one request at a time), and prints p50/p99 for each. A stall on
# reused connections (Nagle + delayed ACK: ~40 ms a request) shows as keep-alive far slower than fresh.
#
# Usage: [BUILD=build] [MODEL=file.imagefit] [IMAGE=photo.jpg] [N=200] [WARMUP=20] \
#        [SERVE_ARGS="--batch-window-ms 0"] bench/serve_latency.sh
# Without MODEL, a MobileNetV2-0.35 (224×224, the Teachable Machine Keras weights in ../shared) is
# trained as a linear probe on data/sample-sign-digits: the weights do not matter for
# speed, the architecture does. IMAGE defaults to a 100×100 JPEG of that dataset.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
BIN="$BUILD/imagefit"
N=${N:-200}
WARMUP=${WARMUP:-20}
SERVE_ARGS=${SERVE_ARGS:-}
IMAGE=${IMAGE:-data/sample-sign-digits/3/IMG_4216.JPG}
PYTHON=${PYTHON:-/usr/bin/python3}
WORK=$(mktemp -d /tmp/imagefit-serve-latency.XXXXXX)
server_pid=""
cleanup() {
  if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then kill -KILL "$server_pid" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

[[ -x "$BIN" ]] || { echo "serve_latency: $BIN not found: build it first (scripts/build.sh, or BUILD=dir)" >&2; exit 1; }
[[ -x "$PYTHON" ]] || PYTHON=python3

if [[ -z "${MODEL:-}" ]]; then
  WEIGHTS=../shared/weights/keras/teachable_machine_mobilenet_v2_0.35_224.h5
  [[ -f "$WEIGHTS" ]] || { echo "serve_latency: set MODEL (no $WEIGHTS to train one)" >&2; exit 1; }
  MODEL="$WORK/mobilenet_v2_035.imagefit"
  echo "serve_latency: training a MobileNetV2-0.35 linear probe on data/sample-sign-digits for the test..."
  "$BIN" train data/sample-sign-digits -o "$MODEL" --weights "$WEIGHTS" --strategy feature-extract \
      --augment none >"$WORK/train.log" 2>&1 || { cat "$WORK/train.log" >&2; exit 1; }
fi

# shellcheck disable=SC2086
"$BIN" serve "$MODEL" --host 127.0.0.1 --port 0 $SERVE_ARGS >"$WORK/serve.log" 2>&1 &
server_pid=$!
url=""
for _ in $(seq 1 600); do
  url=$(grep -o 'open http://127\.0\.0\.1:[0-9]*/' "$WORK/serve.log" | head -1 | cut -d' ' -f2 || true)
  [[ -n "$url" ]] && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$WORK/serve.log" >&2; exit 1; }
  sleep 0.1
done
[[ -n "$url" ]] || { echo "serve_latency: the server did not start" >&2; cat "$WORK/serve.log" >&2; exit 1; }

echo "machine:  $(nproc) cores ($(lscpu | awk -F: '/^Model name/ {sub(/^ +/, "", $2); print $2; exit}')), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "server:   $(head -1 "$WORK/serve.log" | sed 's/^imagefit: serving //') $SERVE_ARGS"
echo "image:    $IMAGE ($(stat -c %s "$IMAGE") bytes)"
echo "requests: $N a mode after $WARMUP warm-up, one at a time, POST ${url}api/predict"
"$PYTHON" bench/serve_latency.py "$url" "$IMAGE" "$N" "$WARMUP"

kill -TERM "$server_pid"
code=0
wait "$server_pid" || code=$?
server_pid=""
[[ $code -eq 0 ]] || { echo "serve_latency: server exit code $code after SIGTERM" >&2; exit 1; }
