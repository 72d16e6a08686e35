#!/usr/bin/env bash
# imagefit against its PyTorch peer (bench/torch_peer.py, Debian's torch 1.13 / torchvision 0.14) on
# the same work, in the same run, on the same machine: REPS repetitions, interleaved (imagefit, then
# each peer variant, workload after workload, rep after rep), medians, then one line a comparison:
#
#   RATIO <name> <value>      > 1 means imagefit is better:
#                             throughput: imagefit images/s / peer images/s
#                             time:       peer seconds / imagefit seconds
#
# <name> alone is against the faster peer variant (the one a PyTorch user would pick), <name>_vs_<variant>
# against each. RAW lines give the medians behind them. Workloads (docs/BENCHMARKS.md, "One-command
# comparison"):
#   augment   input pipeline, Keras-tutorial augmentation at 180 (augment_bench vs torchvision, Resize first)
#   scratch   one epoch of the Keras tutorial convnet from scratch at 180 (history.csv images/s)
#   finetune  one fine-tune epoch of MobileNetV2-0.35 at 224, every layer trainable
#   extract   feature extraction incl. decode: imagefit's whole --strategy feature-extract run vs the
#             peer's bare frozen-feature pass over the same JPEGs
#   predict   single-image predict latency (p50) with a loaded model
#   default   the default transfer run (`imagefit train DATA --weights W --val-split 0.1`): wall time and
#             accuracy against the peer's bare frozen-feature pass (target: at most 2.5x)
#
# Usage: bench/compare.sh                      (the full run: an idle machine, all images, REPS=3)
#        REPS=1 IMAGES=200 bench/compare.sh    (a smoke run)
# Knobs (environment):
#   REPS=3            repetitions of every measurement (each a fresh process)
#   IMAGES=all        images used: all, or N (the first N/classes files of each class, sorted by name,
#                     linked into a temporary folder)
#   PRECISION=auto    passed as `--precision $PRECISION` to imagefit train only if its --help has it
#   BUILD=build       imagefit's build folder (the bench programs are built there unless SKIP_BUILD=1;
#                     JOBS=$(nproc) parallel jobs)
#   DATA=../shared/data/cats-dogs   WEIGHTS=../shared/weights/keras/teachable_machine_mobilenet_v2_0.35_224.h5
#   WORKLOADS="augment scratch finetune extract predict default"   (a subset runs only those)
#   PEER_VARIANTS="fp32 bf16"     the peer's precisions (bf16: torch.autocast("cpu", torch.bfloat16));
#                                 "jit" (trace + freeze) is also accepted, for extract and predict only
#   AUG_EPOCHS=2 SCRATCH_EPOCHS=2 FT_EPOCHS=2 (imagefit's --epochs for fine-tune; the peer trains as many
#                     epochs as imagefit's history has fine-tune rows)
#   CALLS=50          single-image calls timed for predict
#   RESULTS=FILE      also keep every raw measurement (JSON lines) in FILE
#   KEEP=1            keep the temporary folder (models, histories, logs) and print its path
#   PYTHON=/usr/bin/python3   the Python with torch (not pyenv's)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$root/build}
[[ $BUILD = /* ]] || BUILD=$root/$BUILD
DATA=${DATA:-$root/../shared/data/cats-dogs}
WEIGHTS=${WEIGHTS:-$root/../shared/weights/keras/teachable_machine_mobilenet_v2_0.35_224.h5}
REPS=${REPS:-3}
IMAGES=${IMAGES:-all}
PRECISION=${PRECISION:-auto}
WORKLOADS=${WORKLOADS:-augment scratch finetune extract predict default}
PEER_VARIANTS=${PEER_VARIANTS:-fp32 bf16}
AUG_EPOCHS=${AUG_EPOCHS:-2}
SCRATCH_EPOCHS=${SCRATCH_EPOCHS:-2}
FT_EPOCHS=${FT_EPOCHS:-2}
CALLS=${CALLS:-50}
PYTHON=${PYTHON:-/usr/bin/python3}
JOBS=${JOBS:-$(nproc)}
cores=$(nproc)

want() { [[ " $WORKLOADS " == *" $1 "* ]]; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/imagefit-compare.XXXXXX")
if [[ ${KEEP:-0} == 1 ]]; then trap 'echo "kept $tmp"' EXIT; else trap 'rm -rf "$tmp"' EXIT; fi
results=$tmp/results.jsonl
: >"$results"

# ---- build --------------------------------------------------------------------------------------
if [[ ${SKIP_BUILD:-0} != 1 ]]; then
  [[ -f $BUILD/CMakeCache.txt ]] || cmake -S "$root" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$BUILD" --target imagefit augment_bench predict_bench -j"$JOBS" >/dev/null
fi
imagefit=$BUILD/imagefit
for f in "$imagefit" "$BUILD/bench/augment_bench" "$BUILD/bench/predict_bench"; do
  [[ -x $f ]] || { echo "compare.sh: $f missing (build it, or unset SKIP_BUILD)" >&2; exit 1; }
done
binary_id() { stat -c '%Y %s' "$imagefit" "$BUILD/bench/augment_bench" "$BUILD/bench/predict_bench" | md5sum | cut -c1-12; }
binaries_at_start=$(binary_id)
"$PYTHON" -c 'import torch, torchvision' 2>/dev/null || { echo "compare.sh: $PYTHON has no torch/torchvision" >&2; exit 1; }

# ---- data: all of DATA, or the first IMAGES/classes images of each class --------------------------
mapfile -t classes < <(find "$DATA" -mindepth 1 -maxdepth 1 -type d -printf '%f\n' | LC_ALL=C sort)
(( ${#classes[@]} >= 2 )) || { echo "compare.sh: $DATA needs class folders" >&2; exit 1; }
list_images() { find "$DATA/$1" -maxdepth 1 -type f -iregex '.*\.\(jpe?g\|png\|bmp\|webp\|tiff?\)' -printf '%f\n' | LC_ALL=C sort; }
if [[ $IMAGES == all ]]; then
  data=$DATA
else
  per=$(( (IMAGES + ${#classes[@]} - 1) / ${#classes[@]} ))
  data=$tmp/data
  for c in "${classes[@]}"; do
    mkdir -p "$data/$c"
    mapfile -t files < <(list_images "$c")
    for f in "${files[@]:0:per}"; do ln -s "$DATA/$c/$f" "$data/$c/$f"; done
  done
fi
n_images=$(find -L "$data" -mindepth 2 -maxdepth 2 -type f | wc -l)
first_class=${classes[0]}
predict_image=$(find -L "$data/$first_class" -maxdepth 1 -type f | LC_ALL=C sort | sed -n 1p)
find -L "$data" -type f -exec cat {} + >/dev/null  # page cache warm for every program alike

precision_args=()
train_help=$("$imagefit" train --help 2>&1 || true)
if [[ $train_help == *--precision* ]]; then
  precision_args=(--precision "$PRECISION")
  precision_note="imagefit train --precision $PRECISION"
else
  precision_note="imagefit train has no --precision option (fp32); PRECISION=$PRECISION not passed"
fi

echo "machine: $cores cores, $(lscpu | awk -F': *' '/^Model name/ && !n++ {print $2}'), $(free -g | awk '/^Mem:/ {print $2}') GiB," \
  "load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "software: imagefit $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$root" diff --quiet 2>/dev/null || echo '+changes')," \
  "$("$PYTHON" -c 'import torch, torchvision, PIL; print(f"torch {torch.__version__}, torchvision {torchvision.__version__}, Pillow {PIL.__version__}")')"
echo "run: REPS=$REPS, $n_images images from $DATA (IMAGES=$IMAGES, ${#classes[@]} classes), workloads: $WORKLOADS;" \
  "peer variants: $PEER_VARIANTS; $precision_note"
echo "sizes: AUG_EPOCHS=$AUG_EPOCHS SCRATCH_EPOCHS=$SCRATCH_EPOCHS FT_EPOCHS=$FT_EPOCHS CALLS=$CALLS; threads: $cores for both"
echo

# ---- helpers ------------------------------------------------------------------------------------
cat >"$tmp/helper.py" <<'PY'
import json, re, sys

def append(results, rec):
    with open(results, "a") as f:
        f.write(json.dumps(rec) + "\n")

def history_rates(path, phase):
    # images_per_second of the rows of one phase, by the header's column names
    lines = [l.rstrip("\n").split(",") for l in open(path) if l.strip()]
    head = lines[0]
    ph, ips = head.index("phase"), head.index("images_per_second")
    return [float(r[ips]) for r in lines[1:] if r[ph] == phase]

def time_v(path):
    out = {}
    for line in open(path):
        if "Maximum resident set size" in line:
            out["peak_rss_mb"] = round(int(line.rsplit(":", 1)[1]) / 1024, 1)
        if "Elapsed (wall clock)" in line:
            parts = [float(p) for p in line.rsplit(": ", 1)[1].strip().split(":")]
            sec = 0.0
            for p in parts:
                sec = sec * 60 + p
            out["elapsed_s"] = sec
    return out

cmd, results = sys.argv[1], sys.argv[2]
if cmd == "train":  # train WORKLOAD REP NAME WALL [PHASE]
    workload, rep, name, wall = sys.argv[3], int(sys.argv[4]), sys.argv[5], float(sys.argv[6])
    phase = sys.argv[7] if len(sys.argv) > 7 else None
    summary = json.load(open(name + ".out"))
    rec = {"workload": workload, "program": "imagefit", "variant": "imagefit", "rep": rep, "wall_seconds": wall,
           "seconds": summary.get("seconds"), "val_accuracy": summary.get("val_accuracy"),
           "test_accuracy": summary.get("test_accuracy"), "strategy": summary.get("strategy"),
           "epochs_run": summary.get("epochs_run"), "precision": summary.get("precision"), **time_v(name + ".time")}
    if phase:
        rec["epoch_images_per_second"] = history_rates(summary["history"], phase)
    append(results, rec)
elif cmd == "augment":  # augment REP FILE: augment_bench's RESULT lines
    rep, path = int(sys.argv[3]), sys.argv[4]
    for line in open(path):
        m = re.match(r"RESULT (\S+) ([\d.]+) images/s \(([\d.]+) images per CPU-second\)", line)
        if m:
            append(results, {"workload": "augment", "program": "imagefit", "variant": m.group(1), "rep": rep,
                             "images_per_second": float(m.group(2)), "images_per_cpu_second": float(m.group(3))})
elif cmd == "jsonl":  # jsonl REP FILE [WORKLOAD]: a program's JSON lines
    rep, path = int(sys.argv[3]), sys.argv[4]
    found = False
    for line in open(path):
        if line.startswith("{"):
            rec = json.loads(line)
            rec["rep"] = rep
            if len(sys.argv) > 5:
                rec.setdefault("workload", sys.argv[5])
            rec.setdefault("variant", rec.get("mode"))
            append(results, rec)
            found = True
    if not found:
        sys.exit(1)
elif cmd == "error":  # error WORKLOAD PROGRAM VARIANT REP MESSAGE
    append(results, {"workload": sys.argv[3], "program": sys.argv[4], "variant": sys.argv[5], "rep": int(sys.argv[6]),
                     "error": sys.argv[7]})
PY
helper() { "$PYTHON" "$tmp/helper.py" "$1" "$results" "${@:2}"; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.3f", b - a }'; }

# train_imagefit WORKLOAD REP PHASE ARGS...: one `imagefit train` under /usr/bin/time -v, recorded.
train_imagefit() {
  local workload=$1 rep=$2 phase=$3 name=$tmp/$1
  shift 3
  rm -f "$name".imagefit "$name".history.csv
  local t0
  t0=$(now)
  if /usr/bin/time -v -o "$name.time" "$imagefit" train "$data" "$@" "${precision_args[@]}" -q --json -o "$name.imagefit" \
      >"$name.out" 2>"$name.err"; then
    local wall
    wall=$(elapsed "$t0")
    helper train "$workload" "$rep" "$name" "$wall" $phase
    echo "  imagefit $workload: $wall s wall" >&2
  else
    echo "  imagefit $workload FAILED: $(tail -n 3 "$name.err" | tr '\n' ' ')" >&2
    helper error "$workload" imagefit imagefit "$rep" "$(tail -n 1 "$name.err")"
    return 1
  fi
}

# peer WORKLOAD REP VARIANT ARGS...: one bench/torch_peer.py subcommand, recorded.
peer() {
  local workload=$1 rep=$2 variant=$3 log=$tmp/peer-$1-$3
  shift 3
  if "$PYTHON" "$root/bench/torch_peer.py" "$@" >"$log.out" 2>"$log.err" && helper jsonl "$rep" "$log.out"; then
    echo "  pytorch $workload $variant: $(tail -n 1 "$log.out" | cut -c1-160)" >&2
  else
    echo "  pytorch $workload $variant FAILED: $(tail -n 2 "$log.err" | tr '\n' ' ' | cut -c1-300)" >&2
    helper jsonl "$rep" "$log.out" 2>/dev/null || helper error "$workload" pytorch "$variant" "$rep" "$(tail -n 1 "$log.err")"
  fi
}

fine_tune_rows() {  # rows of phase fine-tune in a history.csv (0 if there is none)
  [[ -f $1 ]] || { echo 0; return; }
  awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "phase") p = i; next } p && $p == "fine-tune" { n++ } END { print n + 0 }' "$1"
}

peer_variants() {  # the peer variants that make sense for a workload
  local v
  for v in $PEER_VARIANTS; do
    if [[ $v != jit || $1 == extract || $1 == predict ]]; then echo "$v"; fi
  done
}

predict_model=$tmp/extract.imagefit
if want predict && ! want extract; then  # predict needs a loaded model: the feature-extract one
  echo "training a feature-extract model for predict (not timed)" >&2
  train_imagefit extract 0 "" --weights "$WEIGHTS" --strategy feature-extract --augment none >/dev/null
  : >"$results"
fi

# ---- the runs -----------------------------------------------------------------------------------
for rep in $(seq 1 "$REPS"); do
  echo "rep $rep/$REPS" >&2
  if want augment; then
    if "$BUILD/bench/augment_bench" --data "$data" --size 180 --epochs "$AUG_EPOCHS" --threads "$cores" >"$tmp/augment.out" 2>&1; then
      helper augment "$rep" "$tmp/augment.out"
      echo "  imagefit augment: $(grep '^RESULT' "$tmp/augment.out" | cut -d' ' -f2,3 | tr '\n' ' ')" >&2
    else
      echo "  imagefit augment FAILED: $(tail -n 2 "$tmp/augment.out")" >&2
    fi
    for mode in decode_each_time cached_resized; do
      peer augment "$rep" "$mode" augment --data "$data" --mode "$mode" --epochs "$AUG_EPOCHS"
    done
  fi
  if want scratch; then
    train_imagefit scratch "$rep" train --arch simple-cnn --image-size 180 --epochs "$SCRATCH_EPOCHS" --augment none || true
    for v in $(peer_variants scratch); do
      peer scratch "$rep" "$v" scratch --data "$data" --variant "$v" --epochs "$SCRATCH_EPOCHS"
    done
  fi
  if want finetune; then
    train_imagefit finetune "$rep" fine-tune --weights "$WEIGHTS" --strategy fine-tune --unfreeze all --augment none \
      --epochs "$FT_EPOCHS" || true
    # The peer trains as many epochs as imagefit's history has fine-tune rows (how --epochs counts the
    # probe row has changed before); at least one.
    ft_peer_epochs=$(fine_tune_rows "$tmp/finetune.history.csv")
    (( ft_peer_epochs > 0 )) || ft_peer_epochs=1
    for v in $(peer_variants finetune); do
      peer finetune "$rep" "$v" finetune --data "$data" --variant "$v" --epochs "$ft_peer_epochs"
    done
  fi
  if want extract || want default; then
    if want extract; then
      train_imagefit extract "$rep" "" --weights "$WEIGHTS" --strategy feature-extract --augment none || true
    fi
    for v in $(peer_variants extract); do
      peer extract "$rep" "$v" extract --data "$data" --variant "$v"
    done
  fi
  if want predict; then
    if [[ -f $predict_model ]] && "$BUILD/bench/predict_bench" "$predict_model" "$predict_image" "$CALLS" "$cores" 5 "$PRECISION" \
        >"$tmp/predict.out" 2>"$tmp/predict.err"; then
      helper jsonl "$rep" "$tmp/predict.out" predict
      echo "  imagefit predict: $(grep -o '"mode": "[a-z]*"\|"p50_ms": [0-9.]*' "$tmp/predict.out" | tr '\n' ' ')" >&2
    else
      echo "  imagefit predict FAILED: $(tail -n 2 "$tmp/predict.err" 2>/dev/null)" >&2
    fi
    for v in $(peer_variants predict); do
      peer predict "$rep" "$v" predict --image "$predict_image" --classes "${#classes[@]}" --variant "$v" --calls "$CALLS"
    done
  fi
  if want default; then
    train_imagefit default "$rep" "" --weights "$WEIGHTS" --val-split 0.1 || true
  fi
done
[[ -n ${RESULTS:-} ]] && cp "$results" "$RESULTS"
if [[ $(binary_id) != "$binaries_at_start" ]]; then
  echo "WARNING: $imagefit or a bench program was rebuilt during this run: its numbers mix two builds (use a BUILD folder of its own)"
fi

# ---- medians and ratios -------------------------------------------------------------------------
echo
"$PYTHON" - "$results" "$WORKLOADS" <<'PY'
import json, sys
from collections import defaultdict

rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
workloads = sys.argv[2].split()

def median(v):
    v = sorted(x for x in v if x is not None)
    n = len(v)
    return None if not n else (v[n // 2] if n % 2 else 0.5 * (v[n // 2 - 1] + v[n // 2]))

def select(workload, program, variant=None):
    return [r for r in rows if r.get("workload") == workload and r.get("program") == program
            and (variant is None or r.get("variant") == variant) and "error" not in r]

def errors(workload, program, variant=None):
    return sorted({r["error"] for r in rows if r.get("workload") == workload and r.get("program") == program
                   and (variant is None or r.get("variant") == variant) and "error" in r})

def peer_variants(workload):
    seen = []
    for r in rows:
        if r.get("workload") == workload and r.get("program") == "pytorch" and r.get("variant") not in seen:
            seen.append(r.get("variant"))
    return seen

def fmt(x, digits=1):
    return "n/a" if x is None else f"{x:.{digits}f}"

def raw(workload, who, metric, values, unit, extra=""):
    m = median(values)
    print(f"RAW {workload} {who} {metric} {fmt(m, 3 if unit in ('ms',) else 2)} {unit} (median of {len(values)}){extra}")
    return m

def ratio(name, value, how):
    print(f"RATIO {name} {fmt(value, 2)}" + (f"   # {how}" if how else ""))

def imagefit_extra(recs):
    rss = median([r.get("peak_rss_mb") for r in recs])
    acc = median([r.get("val_accuracy") for r in recs])
    wall = median([r.get("wall_seconds") for r in recs])
    parts = []
    precisions = sorted({r["precision"] for r in recs if r.get("precision")})
    if precisions:
        parts.append("precision " + ",".join(precisions))
    if wall is not None:
        parts.append(f"run wall {wall:.1f} s")
    if acc is not None:
        parts.append(f"val_accuracy {acc:.4f}")
    if rss is not None:
        parts.append(f"peak RSS {rss:.0f} MB")
    return (" | " + ", ".join(parts)) if parts else ""

def compare(name, ours, theirs, higher_better, unit):
    """ours: the imagefit median; theirs: {variant: median}. Prints the headline and the per-variant ratios."""
    valid = {v: m for v, m in theirs.items() if m}
    r = lambda m: None if (ours is None or not m) else (ours / m if higher_better else m / ours)
    if valid:
        best = (max if higher_better else min)(valid, key=valid.get)
        ratio(name, r(valid[best]), f"imagefit vs pytorch-{best} (the faster peer), "
              + ("imagefit/peer " + unit if higher_better else "peer/imagefit " + unit))
    else:
        ratio(name, None, "no peer measurement")
    for v, m in theirs.items():
        ratio(f"{name}_vs_{v}", r(m), "" if m else "peer unavailable")

print("Medians over the repetitions; RATIO > 1 means imagefit is better (throughput: imagefit/peer images per "
      "second; time and latency: peer/imagefit seconds). <name> compares with the faster peer variant.")

if "augment" in workloads:
    print("\n# input pipeline: Keras-tutorial augmentation at 180x180 (peer: Resize first, DataLoader workers = cores)")
    m = {}
    for prog, modes in (("imagefit", ("decode_each_time", "cached_decoded", "cached_network")),
                        ("pytorch", ("decode_each_time", "cached_resized"))):
        for mode in modes:
            recs = select("augment", prog, mode)
            m[prog, mode] = raw("augment", f"{prog}-{mode}", "images_per_second", [r["images_per_second"] for r in recs], "img/s")
            m[prog, mode, "cpu"] = raw("augment", f"{prog}-{mode}", "images_per_cpu_second",
                                       [r["images_per_cpu_second"] for r in recs], "img/CPU-s")
            for e in errors("augment", prog, mode):
                print(f"ERROR augment {prog}-{mode}: {e}")
    q = lambda a, b: None if not a or not b else a / b
    for name, a, b in (("augment_decode_each_time", ("imagefit", "decode_each_time"), ("pytorch", "decode_each_time")),
                       ("augment_cached", ("imagefit", "cached_network"), ("pytorch", "cached_resized")),
                       ("augment_training_vs_peer_usual", ("imagefit", "cached_network"), ("pytorch", "decode_each_time"))):
        ratio(name, q(m.get(a), m.get(b)), f"imagefit {a[1]} / pytorch {b[1]}, img/s")
        ratio(name + "_per_cpu_s", q(m.get(a + ("cpu",)), m.get(b + ("cpu",))), "same, images per CPU-second")

def epoch_workload(workload, title, name):
    print(f"\n# {title}")
    ours_recs = select(workload, "imagefit")
    ours = raw(workload, "imagefit", "images_per_second", [x for r in ours_recs for x in r.get("epoch_images_per_second", [])],
               "img/s", imagefit_extra(ours_recs))
    for e in errors(workload, "imagefit"):
        print(f"ERROR {workload} imagefit: {e}")
    theirs = {}
    for v in peer_variants(workload):
        recs = select(workload, "pytorch", v)
        note = ""
        if any("workaround" in r for r in recs):
            w = next(r for r in recs if "workaround" in r)
            note = f" | plain bf16 failed ({w['bf16_error']}); workaround: {w['workaround']}"
        theirs[v] = raw(workload, f"pytorch-{v}", "images_per_second",
                        [x for r in recs for x in r.get("epoch_images_per_second", [])], "img/s", note)
        for e in errors(workload, "pytorch", v):
            print(f"ERROR {workload} pytorch-{v}: {e}")
    compare(name, ours, theirs, True, "img/s")

if "scratch" in workloads:
    epoch_workload("scratch", "scratch epoch: Keras tutorial convnet, 180x180, in-memory images, images/s of the training loop",
                   "scratch_epoch_speedup")
if "finetune" in workloads:
    epoch_workload("finetune", "fine-tune epoch: MobileNetV2-0.35 at 224, every layer trainable, images/s of the training loop",
                   "finetune_epoch_speedup")

peer_extract = {}
if "extract" in workloads or "default" in workloads:
    for v in peer_variants("extract"):
        recs = select("extract", "pytorch", v)
        peer_extract[v] = median([r["seconds"] for r in recs])
if "extract" in workloads:
    print("\n# feature extraction incl. decode: imagefit's whole feature-extract run vs the peer's bare frozen-feature pass")
    recs = select("extract", "imagefit")
    ours = raw("extract", "imagefit", "wall_seconds", [r["wall_seconds"] for r in recs], "s", imagefit_extra(recs))
    raw("extract", "imagefit", "internal_seconds", [r.get("seconds") for r in recs], "s", " (train's own 'seconds')")
    for e in errors("extract", "imagefit"):
        print(f"ERROR extract imagefit: {e}")
    for v in peer_extract:
        raw("extract", f"pytorch-{v}", "seconds", [r["seconds"] for r in select("extract", "pytorch", v)], "s")
        for e in errors("extract", "pytorch", v):
            print(f"ERROR extract pytorch-{v}: {e}")
    compare("feature_extract_speedup", ours, peer_extract, False, "seconds")

if "predict" in workloads:
    print("\n# single-image predict latency, p50 with a loaded model")
    ours = {}
    for mode in ("predict", "forward"):
        recs = select("predict", "imagefit", mode)
        precisions = sorted({r["precision"] for r in recs if r.get("precision")})
        ours[mode] = raw("predict", f"imagefit-{mode}", "p50", [r["p50_ms"] for r in recs], "ms",
                         f" | precision {','.join(precisions)}" if precisions else "")
    theirs = {"predict": {}, "forward": {}}
    for v in peer_variants("predict"):
        recs = select("predict", "pytorch", v)
        for mode in ("predict", "forward"):
            theirs[mode][v] = raw("predict", f"pytorch-{v}-{mode}", "p50", [r[mode]["p50_ms"] for r in recs], "ms")
        for e in errors("predict", "pytorch", v):
            print(f"ERROR predict pytorch-{v}: {e}")
    print("# predict: decoded image -> resize, normalize, forward, softmax; forward: ready 1x3x224x224 tensor")
    compare("predict_latency_speedup", ours["predict"], theirs["predict"], False, "ms")
    compare("predict_forward_speedup", ours["forward"], theirs["forward"], False, "ms")

if "default" in workloads:
    print("\n# default transfer run (imagefit train DATA --weights W --val-split 0.1) vs the peer's bare frozen-feature pass")
    recs = select("default", "imagefit")
    ours = raw("default", "imagefit", "wall_seconds", [r["wall_seconds"] for r in recs], "s", imagefit_extra(recs))
    strategies = sorted({str(r.get("strategy")) for r in recs})
    epochs = median([r.get("epochs_run") for r in recs])
    print(f"RAW default imagefit strategy {','.join(strategies)} (epochs_run median {fmt(epochs, 0)})")
    for e in errors("default", "imagefit"):
        print(f"ERROR default imagefit: {e}")
    for v, s in peer_extract.items():
        print(f"RAW default pytorch-{v} bare_pass_seconds {fmt(s, 2)} s (the extract peer's median)")
    compare("default_run_vs_peer_bare_pass", ours, peer_extract, False, "seconds")
    valid = [s for s in peer_extract.values() if s]
    if ours and valid:
        times = ours / min(valid)
        print(f"TARGET default run <= 2.5x the peer's bare pass (RATIO >= 0.40): "
              f"{'met' if times <= 2.5 else 'NOT met'} ({times:.2f}x the faster peer's pass)")
PY
