#!/usr/bin/env bash
# Augmentation throughput, imagefit vs torchvision, in the same run on the same machine:
# the Keras tutorial's augmentation at 180x180 on ../shared/data/cats-dogs, all cores.
#
#   bench/run_augment_bench.sh            # BUILD=build DATA=../shared/data/cats-dogs EPOCHS=3 ORDER=resize-first
#
# ORDER: the torchvision peer's transform order (bench/torchvision_augment.py --order): resize-first
# (Resize((180, 180)) then RandomAffine, as Keras resizes at load) or warp-first (RandomAffine at full
# size then Resize: the order of the first runs in docs/BENCHMARKS.md "Augmentation throughput").
#
# Prints both programs' RESULT lines and the ratios (imagefit / torchvision) in wall-clock images
# per second and in images per CPU-second (the second holds up when other jobs share the machine).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$root/build}
data=${DATA:-$root/../shared/data/cats-dogs}
epochs=${EPOCHS:-3}
size=${SIZE:-180}
order=${ORDER:-resize-first}

cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" --target augment_bench -j"$(nproc)" >/dev/null

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load $(cut -d' ' -f1-3 /proc/loadavg)"
"$build/bench/augment_bench" --data "$data" --size "$size" --epochs "$epochs" | tee "$out/imagefit.txt"
/usr/bin/python3 "$root/bench/torchvision_augment.py" --data "$data" --size "$size" --epochs "$epochs" --order "$order" | tee "$out/torchvision.txt"

# RESULT <mode> <per second> images/s (<per CPU-second> images per CPU-second)
value() { awk -v m="$2" -v f="$3" '$1 == "RESULT" && $2 == m { gsub(/\(/, "", $f); print $f }' "$1"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.1fx", a / b; else print "n/a" }'; }
tv_wall=$(value "$out/torchvision.txt" torchvision_decode_each_time 3)
tv_cpu=$(value "$out/torchvision.txt" torchvision_decode_each_time 5)
tv_cached_wall=$(value "$out/torchvision.txt" torchvision_cached_decoded 3)
tv_cached_cpu=$(value "$out/torchvision.txt" torchvision_cached_decoded 5)
echo
echo "ratio imagefit / torchvision (wall images/s, images per CPU-second):"
for mode in decode_each_time cached_decoded cached_network; do
  wall=$(value "$out/imagefit.txt" "$mode" 3)
  cpu=$(value "$out/imagefit.txt" "$mode" 5)
  printf '  imagefit %-17s vs torchvision decode_each_time: %6s wall, %6s CPU' "$mode" "$(ratio "$wall" "$tv_wall")" \
    "$(ratio "$cpu" "$tv_cpu")"
  if [[ $mode != decode_each_time ]]; then
    printf ' | vs torchvision cached_decoded: %6s wall, %6s CPU' "$(ratio "$wall" "$tv_cached_wall")" \
      "$(ratio "$cpu" "$tv_cached_cpu")"
  fi
  echo
done
