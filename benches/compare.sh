#!/usr/bin/env bash
# Side-by-side CPU throughput: `clipscope bench` against open_clip `encode_image` under torch
# (transformers' SiglipVisionModel for siglip-b-16), same architectures, batch and thread count,
# random weights (nothing is downloaded), each in f32 and in bf16 (clipscope `--dtype bf16`: the
# dense layers on the AMX tiles or AVX512-BF16 where the CPU has them, f32 elsewhere; torch
# `model.to(torch.bfloat16)`: everything in bf16, oneDNN's AMX kernels where the CPU has them).
# The four runs alternate ROUNDS times per architecture, so that all see the same state of a
# shared machine; the table gives each round's images/s and ratios (clipscope decomposing the
# last 4 layers, as `clipscope index` does by default, over torch), their medians, and each
# column's best with the ratios of the bests (what a quiet machine shows, where a shared one's
# slow minutes fall on one side of a round more than the other).
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
flags=$(grep -m1 '^flags' /proc/cpuinfo | tr ' ' '\n' | grep -E '^(avx2|avx512f|avx512_bf16|amx_tile|amx_bf16)$' | tr '\n' ' ')
echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; CPU flags: ${flags:-none of avx2, avx512f, avx512_bf16, amx}"
echo "clipscope --dtype bf16 runs: $(target/release/clipscope doctor --json | "$py" -c 'import json,sys; print(json.load(sys.stdin)["cpu_bf16"])')"
echo "threads=$threads batch=$batch iters=$iters rounds=$rounds"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
for arch in "${archs[@]}"; do
  for _ in $(seq "$rounds"); do
    for dtype in f32 bf16; do
      RAYON_NUM_THREADS=$threads target/release/clipscope bench --arch "$arch" --batch "$batch" \
        --iters "$iters" --dtype "$dtype" --json 2>/dev/null >>"$log"
      bf=(); [ "$dtype" = bf16 ] && bf=(--bf16)
      "$py" benches/torch_reference.py --arch "$arch" --batch "$batch" --iters "$iters" \
        --threads "$threads" "${bf[@]}" 2>/dev/null >>"$log"
    done
  done
done
"$py" - "$log" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
print(f"torch {rows[1]['torch']}")
print("| architecture | round | clipscope f32 (last 4) | torch f32 | ratio | clipscope bf16 (last 4) | torch bf16 | ratio | clipscope fastest / torch fastest |")
print("|---|---|---|---|---|---|---|---|---|")
rounds = {}
for i in range(0, len(rows), 4):
    (cf, tf, cb, tb) = rows[i:i + 4]
    last = lambda r: {m["mode"]: m["images_per_s"] for m in r["results"]}["decompose, last 4 layers"]
    a, b = last(cf), last(cb)
    rounds.setdefault(tf["arch"], []).append((a, tf["images_per_s"], b, tb["images_per_s"]))
for arch, rs in rounds.items():
    r32, r16, fast = [], [], []
    for n, (a, t, b, tb) in enumerate(rs, 1):
        r32.append(a / t); r16.append(b / tb); fast.append(max(a, b) / max(t, tb))
        print(f"| {arch} | {n} | {a:.2f} | {t:.2f} | {a / t:.2f}x | {b:.2f} | {tb:.2f} | {b / tb:.2f}x | {fast[-1]:.2f}x |")
    print(f"| {arch} | median | | | **{statistics.median(r32):.2f}x** | | | **{statistics.median(r16):.2f}x** | **{statistics.median(fast):.2f}x** |")
    a, t, b, tb = (max(col) for col in zip(*rs))
    print(f"| {arch} | best | {a:.2f} | {t:.2f} | {a / t:.2f}x | {b:.2f} | {tb:.2f} | {b / tb:.2f}x | {max(a, b) / max(t, tb):.2f}x |")
PY
