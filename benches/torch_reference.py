"""open_clip `encode_image` throughput on random weights, the reference for `clipscope bench`.

Usage: python benches/torch_reference.py --arch vit-b-32 --batch 32 --iters 5 --threads 2
Needs torch and open_clip_torch (pip install torch open-clip-torch); downloads nothing.
"""
import argparse
import json
import statistics
import time

import open_clip
import torch

ARCHS = {"vit-b-32": "ViT-B-32", "vit-b-16": "ViT-B-16", "vit-l-14": "ViT-L-14"}

p = argparse.ArgumentParser()
p.add_argument("--arch", default="vit-b-32", choices=ARCHS)
p.add_argument("--batch", type=int, default=32)
p.add_argument("--iters", type=int, default=5)
p.add_argument("--threads", type=int, default=2)
a = p.parse_args()

torch.set_num_threads(a.threads)
model = open_clip.create_model(ARCHS[a.arch], pretrained=None).eval()
x = torch.randn(a.batch, 3, 224, 224)
times = []
with torch.inference_mode():
    model.encode_image(x)
    for _ in range(a.iters):
        t = time.perf_counter()
        model.encode_image(x)
        times.append((time.perf_counter() - t) * 1e3)
med = statistics.median(times)
print(json.dumps({"arch": a.arch, "batch": a.batch, "threads": a.threads, "torch": torch.__version__,
                  "median_ms": med, "images_per_s": a.batch / med * 1e3}))
