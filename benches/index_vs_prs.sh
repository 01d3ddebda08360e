#!/usr/bin/env bash
# End to end over an image folder: `clipscope index --layers all` (decode, preprocess, forward,
# every layer's per-head direct effects, the f16 store written), in f32 and in bf16, beside
# clip_text_span's own pipeline for the same numbers, compute_prs.py with
# attn_method='head_no_spatial' (benches/prs_reference.py: decode and preprocess in a DataLoader,
# forward with per-head outputs, the PRS logger's projection, np.save). Same architecture (random
# weights of the same shape on both sides: nothing is downloaded), batch and thread count (torch
# threads and DataLoader workers = THREADS; clipscope's decoders default to the cores). The three
# runs alternate ROUNDS times; images/s per round, then each column's median and the ratios.
# Usage: benches/index_vs_prs.sh IMAGES [ARCH] [BATCH] [THREADS] [ROUNDS]
# IMAGES holds one sub-folder of images (torchvision's ImageFolder layout; clipscope walks it).
# PYTHON picks the interpreter with torch, torchvision and open_clip.
set -euo pipefail
images=${1:?usage: benches/index_vs_prs.sh IMAGES [ARCH] [BATCH] [THREADS] [ROUNDS]}
arch=${2:-vit-b-16}
batch=${3:-32}
threads=${4:-2}
rounds=${5:-2}
py=${PYTHON:-python3}
cd "$(dirname "$0")/.."
cargo build --release --quiet
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
target/release/clipscope bench --arch "$arch" --write-checkpoint "$work/model" >/dev/null 2>&1
echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; clipscope --dtype bf16 runs: $(target/release/clipscope doctor --json | "$py" -c 'import json,sys; print(json.load(sys.stdin)["cpu_bf16"])')"
echo "images=$images arch=$arch batch=$batch threads=$threads rounds=$rounds"
for _ in $(seq "$rounds"); do
  for dtype in f32 bf16; do
    rm -rf "$work/cache"
    RAYON_NUM_THREADS=$threads target/release/clipscope index --model "$work/model" \
      --images "$images" --layers all --batch "$batch" --dtype "$dtype" --cache "$work/cache" \
      --json -q 2>/dev/null | "$py" -c "import json,sys; r=json.load(sys.stdin); r['run']='clipscope $dtype'; print(json.dumps(r))" >>"$work/log"
  done
  "$py" benches/prs_reference.py --images "$images" --arch "$arch" --batch "$batch" \
    --threads "$threads" --workers "$threads" 2>/dev/null \
    | "$py" -c "import json,sys; r=json.load(sys.stdin); r['run']='clip_text_span'; print(json.dumps(r))" >>"$work/log"
done
"$py" - "$work/log" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
runs = {}
for r in rows:
    runs.setdefault(r["run"], []).append(r["images_per_s"])
print("| round | clipscope index f32 | clipscope index bf16 | clip_text_span compute_prs (head_no_spatial, f32) | f32 ratio | fastest ratio |")
print("|---|---|---|---|---|---|")
f, b, t = runs["clipscope f32"], runs["clipscope bf16"], runs["clip_text_span"]
for n, (x, y, z) in enumerate(zip(f, b, t), 1):
    print(f"| {n} | {x:.2f} | {y:.2f} | {z:.2f} | {x / z:.2f}x | {max(x, y) / z:.2f}x |")
m = [statistics.median(c) for c in (f, b, t)]
print(f"| median | {m[0]:.2f} | {m[1]:.2f} | {m[2]:.2f} | **{m[0] / m[2]:.2f}x** | **{max(m[0], m[1]) / m[2]:.2f}x** |")
PY
