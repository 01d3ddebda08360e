"""Compares `clipscope decompose --json --tokens` outputs of a GPU run with the CPU run.
Usage: python3 benches/gpu_parity.py DIR (holding MODEL-DEVICE-DTYPE.jsonl files)."""
import json, pathlib, sys

import numpy as np

d = pathlib.Path(sys.argv[1])
ok = True
limits = {"f32": 1e-3, "f16": 2e-2, "bf16": 5e-2}
for cpu in sorted(d.glob("*-cpu-f32.jsonl")):
    model = cpu.name[: -len("-cpu-f32.jsonl")]
    ref = [json.loads(l) for l in cpu.read_text().splitlines()]
    for dt, lim in limits.items():
        gpu = d / f"{model}-cuda-{dt}.jsonl"
        if not gpu.exists():
            print(f"{model} cuda {dt}: MISSING"); ok = False; continue
        got = [json.loads(l) for l in gpu.read_text().splitlines()]
        if len(got) != len(ref):
            print(f"{model} cuda {dt}: {len(got)} images vs {len(ref)}"); ok = False; continue
        worst = {}
        for r, g in zip(ref, got):
            for k in ["embedding", "heads", "mlps", "tokens"]:
                diff = float(np.max(np.abs(np.array(r[k], dtype=np.float64) - np.array(g[k], dtype=np.float64))))
                worst[k] = max(worst.get(k, 0.0), diff)
        passed = all(v <= lim for v in worst.values())
        ok &= passed
        print(f"{model} cuda {dt}: max |gpu - cpu| " + ", ".join(f"{k} {v:.2e}" for k, v in worst.items())
              + f"  (limit {lim:g}) {'PASS' if passed else 'FAIL'}")
print("PARITY", "PASS" if ok else "FAIL")
