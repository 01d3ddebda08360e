#!/usr/bin/env bash
# Side-by-side CPU throughput: `clipscope bench` against open_clip `encode_image` under torch
# (transformers' SiglipVisionModel for siglip-b-16),
# same architectures, batch and thread count, random weights (nothing is downloaded). The two
# alternate ROUNDS times per architecture, so that both see the same state of a shared machine;
# the table gives each pair's ratios (clipscope decomposing all layers, and the last 4 that
# `clipscope index` decomposes by default, over torch) and their medians.
# Usage: benches/compare.sh [THREADS] [BATCH] [ITERS] [ROUNDS] [ARCH...]
# PYTHON picks the interpreter with torch and open_clip.
set -euo pipefail
threads=${1:-2}
batch=${2:-32}
iters=${3:-5}
rounds=${4:-3}
shift $(($# < 4 ? $# : 4))
if [ $# -gt 0 ]; then archs=("$@"); else archs=(vit-b-32 vit-b-16); fi
py=${PYTHON:-python3}
cd "$(dirname "$0")/.."
cargo build --release --quiet
echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; threads=$threads batch=$batch iters=$iters rounds=$rounds"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
for arch in "${archs[@]}"; do
  for _ in $(seq "$rounds"); do
    RAYON_NUM_THREADS=$threads target/release/clipscope bench --arch "$arch" --batch "$batch" \
      --iters "$iters" --json >>"$log"
    "$py" benches/torch_reference.py --arch "$arch" --batch "$batch" --iters "$iters" \
      --threads "$threads" 2>/dev/null >>"$log"
  done
done
"$py" - "$log" <<'EOF'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
pairs = {}
for ours, torch in zip(rows[::2], rows[1::2]):
    r = {m["mode"]: m["images_per_s"] for m in ours["results"]}
    pairs.setdefault(torch["arch"], []).append((r, torch["images_per_s"]))
print(f"torch {rows[1]['torch']}")
print("| architecture | round | embedding only | decompose all layers | decompose last 4 | torch (open_clip / transformers) | ratio, all layers | ratio, last 4 |")
print("|---|---|---|---|---|---|---|---|")
for arch, ps in pairs.items():
    all_r, last_r = [], []
    for i, (r, t) in enumerate(ps, 1):
        a, l = r["decompose, all layers"], r["decompose, last 4 layers"]
        all_r.append(a / t)
        last_r.append(l / t)
        print(f"| {arch} | {i} | {r['embedding only']:.2f} | {a:.2f} | {l:.2f} | {t:.2f} | "
              f"{a / t:.2f}x | {l / t:.2f}x |")
    print(f"| {arch} | median | | | | | **{statistics.median(all_r):.2f}x** | "
          f"**{statistics.median(last_r):.2f}x** |")
EOF
