"""Throughput of transformers' CLIP vision tower (random weights) on a GPU, for side-by-side
comparison with `clipscope bench --device cuda` and `clipscope index --device cuda`.

Usage: python3 benches/torch_gpu.py --arch vit-b-16 --batch 256 --iters 10 --dtype bf16
"""
import argparse, json, statistics, time

import torch
from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

ARCHS = {
    "vit-b-32": dict(hidden_size=768, intermediate_size=3072, num_hidden_layers=12, num_attention_heads=12, patch_size=32, projection_dim=512),
    "vit-b-16": dict(hidden_size=768, intermediate_size=3072, num_hidden_layers=12, num_attention_heads=12, patch_size=16, projection_dim=512),
    "vit-l-14": dict(hidden_size=1024, intermediate_size=4096, num_hidden_layers=24, num_attention_heads=16, patch_size=14, projection_dim=768),
}

p = argparse.ArgumentParser()
p.add_argument("--arch", default="vit-b-16", choices=ARCHS)
p.add_argument("--batch", type=int, default=256)
p.add_argument("--iters", type=int, default=10)
p.add_argument("--dtype", default="f32", choices=["f32", "bf16", "f16"])
a = p.parse_args()
dtype = {"f32": torch.float32, "bf16": torch.bfloat16, "f16": torch.float16}[a.dtype]
torch.manual_seed(0)
cfg = CLIPVisionConfig(image_size=224, hidden_act="quick_gelu", **ARCHS[a.arch])
model = CLIPVisionModelWithProjection(cfg).to("cuda", dtype).eval()
x = torch.randn(a.batch, 3, 224, 224, device="cuda", dtype=dtype)
times = []
with torch.inference_mode():
    for i in range(a.iters + 3):
        torch.cuda.synchronize()
        t = time.perf_counter()
        model(pixel_values=x).image_embeds
        torch.cuda.synchronize()
        if i >= 3:
            times.append(time.perf_counter() - t)
med = statistics.median(times)
print(json.dumps({"impl": "transformers CLIPVisionModelWithProjection", "torch": torch.__version__,
                  "arch": a.arch, "dtype": a.dtype, "batch": a.batch, "median_ms": med * 1e3,
                  "images_per_s": a.batch / med, "gpu": torch.cuda.get_device_name()}))
