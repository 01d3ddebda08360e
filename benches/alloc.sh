#!/usr/bin/env bash
# What the binary's own allocator (src/alloc.rs: freed activation buffers kept for the next layer
# of the same shape) buys: `clipscope bench` built three ways — with it (the default), with the
# system's allocator (feature `system-alloc`) and with mimalloc (feature `mimalloc`) — run
# alternately ROUNDS times on the same machine; images/s per round and the medians, with the
# page faults of one run of each (`/usr/bin/time`'s minor faults).
# Usage: benches/alloc.sh [ARCH] [BATCH] [ITERS] [ROUNDS] [DTYPE]
set -euo pipefail
arch=${1:-vit-b-16}
batch=${2:-16}
iters=${3:-3}
rounds=${4:-3}
dtype=${5:-f32}
cd "$(dirname "$0")/.."
base=${CARGO_TARGET_DIR:-target}
bins=$(mktemp -d)
declare -A bin
# One target folder: each build recompiles only clipscope; the default build is left last.
for v in system-alloc mimalloc recycling; do
  features=(); [ "$v" != recycling ] && features=(--features "$v")
  cargo build --release --quiet "${features[@]}"
  cp "$base/release/clipscope" "$bins/$v"
  bin[$v]="$bins/$v"
done
echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; $arch $dtype, batch $batch, iters $iters"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
for _ in $(seq "$rounds"); do
  for v in recycling system-alloc mimalloc; do
    "${bin[$v]}" bench --arch "$arch" --batch "$batch" --iters "$iters" --dtype "$dtype" --json \
      2>/dev/null | sed "s/^{/{\"allocator\":\"$v\",/" >>"$log"
  done
done
tf=$(mktemp)
trap 'rm -rf "$log" "$tf" "$bins"' EXIT
for v in recycling system-alloc mimalloc; do
  faults=""
  if [ -x /usr/bin/time ]; then
    /usr/bin/time -f '%R' -o "$tf" "${bin[$v]}" bench --arch "$arch" --batch "$batch" --iters 1 \
      --dtype "$dtype" >/dev/null 2>&1 && faults=$(tail -1 "$tf")
  fi
  echo "{\"allocator\":\"$v\",\"faults\":\"$faults\"}" >>"$log"
done
python3 - "$log" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
runs = {}
for r in rows:
    if "results" in r:
        last = {m["mode"]: m["images_per_s"] for m in r["results"]}["decompose, last 4 layers"]
        runs.setdefault(r["allocator"], []).append(last)
faults = {r["allocator"]: r["faults"] for r in rows if "faults" in r}
print("| allocator | images/s, rounds | median | vs recycling | minor page faults (one run) |")
print("|---|---|---|---|---|")
base = statistics.median(runs["recycling"])
for v, xs in runs.items():
    m = statistics.median(xs)
    print(f"| {v} | {' / '.join(f'{x:.2f}' for x in xs)} | {m:.2f} | {m / base:.2f}x | {faults.get(v, '')} |")
PY
