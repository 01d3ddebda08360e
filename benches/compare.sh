#!/usr/bin/env bash
# Side-by-side CPU throughput: `clipscope bench` against open_clip `encode_image` under torch,
# same architectures, batch and thread count, random weights (nothing is downloaded).
# Usage: benches/compare.sh [THREADS] [BATCH] [ITERS]; PYTHON picks the interpreter with torch.
set -euo pipefail
threads=${1:-2}
batch=${2:-32}
iters=${3:-5}
py=${PYTHON:-python3}
cd "$(dirname "$0")/.."
cargo build --release --quiet
echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; threads=$threads batch=$batch iters=$iters"
for arch in vit-b-32 vit-b-16; do
  RAYON_NUM_THREADS=$threads target/release/clipscope bench --arch "$arch" --batch "$batch" --iters "$iters"
  "$py" benches/torch_reference.py --arch "$arch" --batch "$batch" --iters "$iters" --threads "$threads" 2>/dev/null
done
