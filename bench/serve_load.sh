#!/usr/bin/env bash
# Load test of `imagefit serve`: starts the server, warms it up, then runs wrk (bench/serve_predict.lua:
# one image POSTed to /api/predict) for DURATION seconds, ROUNDS times, and reports requests/s,
# p50/p90/p99 latency, errors, and the server's resident memory before and after each round (it
# should stay flat). Ends the server with SIGTERM and checks that it exits 0.
#
# Usage: [BUILD=build] [MODEL=file.imagefit] [IMAGE=photo.jpg] [DURATION=30] [CONNECTIONS=8] \
#        [WRK_THREADS=2] [ROUNDS=2] [SERVE_ARGS="--batch-window-ms 5"] bench/serve_load.sh
# Without MODEL, a simple-cnn at 180x180 (the Keras tutorial's network) is trained for one epoch on
# the repository's sample dataset: the weights do not matter for speed, the architecture does.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
BIN="$BUILD/imagefit"
DURATION=${DURATION:-30}
CONNECTIONS=${CONNECTIONS:-8}
WRK_THREADS=${WRK_THREADS:-2}
ROUNDS=${ROUNDS:-2}
SERVE_ARGS=${SERVE_ARGS:-}
WORK=$(mktemp -d /tmp/imagefit-serve-load.XXXXXX)
server_pid=""
cleanup() {
  if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then kill -KILL "$server_pid" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

command -v wrk >/dev/null || { echo "serve_load: wrk is not installed (apt-get install wrk)" >&2; exit 1; }
[[ -x "$BIN" ]] || { echo "serve_load: $BIN not found: build it first (scripts/build.sh, or BUILD=dir)" >&2; exit 1; }

if [[ -z "${MODEL:-}" ]]; then
  MODEL="$WORK/sample.imagefit"
  echo "serve_load: training a simple-cnn (180x180, 1 epoch) on data/sample-sign-digits for the test..."
  "$BIN" split data/sample-sign-digits "$WORK/data" --val 0.2 --test 0.1 --seed 0 >/dev/null
  "$BIN" train "$WORK/data" -o "$MODEL" --arch simple-cnn --image-size 180 --epochs 1 --quiet >/dev/null
fi
if [[ -z "${IMAGE:-}" ]]; then
  IMAGE=../shared/images/hot_dog.jpg
  [[ -f "$IMAGE" ]] || IMAGE=data/sample-sign-digits/3/IMG_4216.JPG
fi
export IMAGE

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$server_pid/status"; }
hwm_kb() { awk '/^VmHWM:/ {print $2}' "/proc/$server_pid/status"; }

# shellcheck disable=SC2086
"$BIN" serve "$MODEL" --port 0 $SERVE_ARGS >"$WORK/serve.log" 2>&1 &
server_pid=$!
url=""
for _ in $(seq 1 600); do
  url=$(grep -o 'open http://[0-9.]*:[0-9]*/' "$WORK/serve.log" | head -1 | cut -d' ' -f2 || true)
  [[ -n "$url" ]] && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$WORK/serve.log" >&2; exit 1; }
  sleep 0.1
done
[[ -n "$url" ]] || { echo "serve_load: the server did not start" >&2; cat "$WORK/serve.log" >&2; exit 1; }

echo "machine:     $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "server:      $(head -1 "$WORK/serve.log" | sed 's/^imagefit: serving //') $SERVE_ARGS"
echo "image:       $IMAGE ($(stat -c %s "$IMAGE") bytes)"
echo "answer:      $(curl -s -H "Content-Type: image/jpeg" --data-binary @"$IMAGE" "${url}api/predict?top_k=1")"
for _ in $(seq 1 50); do curl -s -o /dev/null -H "Content-Type: image/jpeg" --data-binary @"$IMAGE" "${url}api/predict"; done
echo "wrk:         $WRK_THREADS threads, $CONNECTIONS connections, ${DURATION} s, POST ${url}api/predict"
printf "%-8s %10s %9s %9s %9s %9s %8s %12s %12s\n" round "requests" "req/s" "p50 ms" "p90 ms" "p99 ms" errors "RSS before" "RSS after"
rss_start=$(rss_kb)
for round in $(seq 1 "$ROUNDS"); do
  before=$(rss_kb)
  wrk -t"$WRK_THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --timeout 30s -s bench/serve_predict.lua \
      "${url}api/predict" >"$WORK/wrk.$round.txt" 2>&1
  after=$(rss_kb)
  line=$(grep '^RESULT' "$WORK/wrk.$round.txt") || { cat "$WORK/wrk.$round.txt" >&2; exit 1; }
  get() { echo "$line" | tr ' ' '\n' | awk -F= -v k="$1" '$1 == k {print $2}'; }
  errors=$(( $(get non2xx) + $(get connect_errors) + $(get read_errors) + $(get write_errors) + $(get timeouts) ))
  printf "%-8s %10s %9s %9s %9s %9s %8s %9.1f MB %9.1f MB\n" "$round" "$(get requests)" "$(get rps)" "$(get p50_ms)" \
      "$(get p90_ms)" "$(get p99_ms)" "$errors" "$(echo "$before / 1024" | bc -l)" "$(echo "$after / 1024" | bc -l)"
done
printf "RSS: %.1f MB after warm-up, %.1f MB at the end, peak %.1f MB\n" "$(echo "$rss_start / 1024" | bc -l)" \
    "$(echo "$(rss_kb) / 1024" | bc -l)" "$(echo "$(hwm_kb) / 1024" | bc -l)"

kill -TERM "$server_pid"
code=0
wait "$server_pid" || code=$?
server_pid=""
echo "server exit code after SIGTERM: $code"
tail -1 "$WORK/serve.log"
[[ $code -eq 0 ]]
