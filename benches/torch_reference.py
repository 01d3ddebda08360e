"""open_clip `encode_image` throughput on random weights, the reference for `clipscope bench`
(EVA02-B-16 and PE-Core-B-16 through open_clip's timm towers, which need timm); for
`siglip-b-16`, transformers' `SiglipVisionModel` (pooler_output) at its default B/16 config.

Usage: python benches/torch_reference.py --arch vit-b-32 --batch 32 --iters 5 --threads 2 [--bf16]
With --bf16 the model and the input are cast with `.to(torch.bfloat16)`, torch's fastest CPU
precision (oneDNN runs the products on AMX tiles or AVX512-BF16 where the CPU has them). Needs torch and open_clip_torch, or transformers for SigLIP; downloads nothing.
"""
import argparse
import json
import statistics
import time

import torch

ARCHS = {"vit-b-32": "ViT-B-32", "vit-b-16": "ViT-B-16", "vit-l-14": "ViT-L-14",
         "siglip-b-16": None, "eva02-b-16": "EVA02-B-16", "pe-core-b-16": "PE-Core-B-16"}

p = argparse.ArgumentParser()
p.add_argument("--arch", default="vit-b-32", choices=ARCHS)
p.add_argument("--batch", type=int, default=32)
p.add_argument("--iters", type=int, default=5)
p.add_argument("--threads", type=int, default=2)
p.add_argument("--bf16", action="store_true")
a = p.parse_args()

torch.set_num_threads(a.threads)
if a.arch == "siglip-b-16":
    from transformers import SiglipVisionConfig, SiglipVisionModel

    vision = SiglipVisionModel(SiglipVisionConfig()).eval()
    encode = lambda x: vision(pixel_values=x).pooler_output
else:
    import open_clip

    model = open_clip.create_model(ARCHS[a.arch], pretrained=None).eval()
    encode = model.encode_image
x = torch.randn(a.batch, 3, 224, 224)
dtype = torch.bfloat16 if a.bf16 else torch.float32
if a.arch == "siglip-b-16":
    vision = vision.to(dtype)
else:
    model = model.to(dtype)
x = x.to(dtype)
times = []
with torch.inference_mode():
    encode(x)
    for _ in range(a.iters):
        t = time.perf_counter()
        encode(x)
        times.append((time.perf_counter() - t) * 1e3)
med = statistics.median(times)
print(json.dumps({"arch": a.arch, "batch": a.batch, "threads": a.threads, "torch": torch.__version__,
                  "dtype": "bf16" if a.bf16 else "f32",
                  "median_ms": med, "images_per_s": a.batch / med * 1e3}))
