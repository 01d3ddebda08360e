#!/usr/bin/env bash
# GPU verification in one run: GPU vs CPU parity on the fixture models (f32, f16, bf16), then
# ViT-B/16 throughput (random weights) of `clipscope bench` and `clipscope index` beside
# transformers' CLIP vision tower under torch (f32 and bf16) on the same GPU.
# Usage: BIN=path/to/cuda/clipscope OUT=dir benches/gpu_check.sh
set -uo pipefail
BIN=${BIN:-target/release/clipscope}
OUT=${OUT:-/tmp/clipscope-gpu}
N=${N:-4096}
mkdir -p "$OUT"
site=$(python3 -c 'import site; print(site.getsitepackages()[0])')
export LD_LIBRARY_PATH="/usr/local/nvidia/lib64:$(find "$site/nvidia" -name 'lib*.so*' -printf '%h\n' 2>/dev/null | sort -u | tr '\n' ':')${LD_LIBRARY_PATH:-}"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
echo "== parity"
for m in tiny-clip-hf tiny-openclip; do
  imgs=(tests/fixtures/$m/images/*.png)
  "$BIN" decompose --model tests/fixtures/$m --device cpu --tokens --json "${imgs[@]}" > "$OUT/$m-cpu-f32.jsonl"
  for dt in f32 f16 bf16; do
    "$BIN" decompose --model tests/fixtures/$m --device cuda --dtype $dt --tokens --json "${imgs[@]}" > "$OUT/$m-cuda-$dt.jsonl" 2> "$OUT/$m-cuda-$dt.err" || { echo "decompose $m cuda $dt failed:"; tail -3 "$OUT/$m-cuda-$dt.err"; }
  done
done
python3 benches/gpu_parity.py "$OUT"
echo "== block operations, ViT-B/16, batch 256"
"$BIN" bench --ops --device cuda --dtype bf16 --batch 256
echo "== model throughput, ViT-B/16, batch 256"
for dt in f32 bf16; do
  "$BIN" bench --arch vit-b-16 --device cuda --dtype $dt --batch 256 --iters 10
  python3 benches/torch_gpu.py --arch vit-b-16 --dtype $dt --batch 256 --iters 10
done
echo "== one segmentation, ViT-B/16"
"$BIN" bench --arch vit-b-16 --segment --device cuda --iters 10
echo "== index throughput, ViT-B/16, $N JPEGs of 500x375"
python3 - "$N" <<'PY'
import sys, os, numpy as np
from multiprocessing import Pool
from PIL import Image
yy, xx = np.mgrid[0:375, 0:500]
def make(i):
    c = np.random.default_rng(i).integers(0, 255, (3,))
    img = np.stack([(xx * (k + 1) + yy * (i % 7) + c[k]) % 256 for k in range(3)], -1).astype(np.uint8)
    Image.fromarray(img).save(f"/tmp/imgs/{i:05d}.jpg", quality=90)
if __name__ == "__main__":
    os.makedirs("/tmp/imgs", exist_ok=True)
    with Pool(os.cpu_count()) as p:
        p.map(make, range(int(sys.argv[1])), chunksize=64)
PY
"$BIN" bench --arch vit-b-16 --write-checkpoint /tmp/b16
for dt in f32 bf16; do
  "$BIN" index --model /tmp/b16 --images /tmp/imgs --cache /tmp/cache-$dt --device cuda --dtype $dt --batch 256 --json
done
"$BIN" store verify --cache /tmp/cache-bf16 "$(ls /tmp/cache-bf16)" && echo "store verify ok"
