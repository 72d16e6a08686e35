#!/usr/bin/env bash
# Frozen-backbone inference throughput, imagefit vs PyTorch (Debian's python3-torch/torchvision, the
# same LibTorch underneath), same machine, same thread count, back to back. Prints one JSON line a
# measurement and a table of ratios. This is the cost of feature extraction, predict and serve.
# Usage: [BUILD=build] [THREADS=$(nproc)] [BATCH=32] [ITERATIONS=6] bench/run_backbone_bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
THREADS=${THREADS:-$(nproc)}
BATCH=${BATCH:-32}
ITERATIONS=${ITERATIONS:-6}
cmake --build "$BUILD" --target backbone_bench >/dev/null
out=$(mktemp)
# imagefit arch, alpha, torchvision equivalent
while read -r arch alpha tv; do
  "$BUILD/bench/backbone_bench" "$arch" "$alpha" 224 "$BATCH" "$ITERATIONS" "$THREADS" | tee -a "$out"
  /usr/bin/python3 bench/torch_backbone.py "$tv" "$alpha" 224 "$BATCH" "$ITERATIONS" "$THREADS" | tee -a "$out"
done <<'LIST'
keras-mobilenet-v2 0.35 mobilenet_v2
mobilenet_v2 1.0 mobilenet_v2
resnet18 1.0 resnet18
LIST
/usr/bin/python3 - "$out" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
print("\n| network | imagefit eager | imagefit frozen | PyTorch eager | frozen / PyTorch |")
print("|---|---:|---:|---:|---:|")
i = 0
while i + 2 < len(rows):
    eager, frozen, torch = rows[i], rows[i + 1], rows[i + 2]
    name = f"{eager['arch']} {eager['alpha']:g}"
    print(f"| {name} | {eager['images_per_second']} | {frozen['images_per_second']} | "
          f"{torch['images_per_second']} | {frozen['images_per_second'] / torch['images_per_second']:.2f}× |")
    i += 3
PY
rm -f "$out"
