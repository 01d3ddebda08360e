"""Full-width parity of EVA02-E-14 (timm `eva02_enormous_patch14_clip_224`: width 1792, 16 heads
of 112, MLP 15360, post-norm blocks) against open_clip, on random weights: 2 of its 64 blocks (the
whole model is 4.4B parameters), the real text tower, one random 224 px image.

    cargo build --release
    python3 tools/full_width_eva02_e.py /tmp/e14

Prints the largest differences of the unit text and image embeddings from open_clip's, and the
decomposition's identity (heads + MLPs - embedding).
"""
import json, pathlib, shutil, subprocess, sys

import numpy as np
import open_clip
import timm
import torch
from functools import partial
from PIL import Image
from safetensors.torch import save_file

ROOT = pathlib.Path(__file__).resolve().parent.parent
work = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/e14")
out = work / "model"; out.mkdir(parents=True, exist_ok=True)
reg = timm.models._registry._model_entrypoints
name = "eva02_enormous_patch14_clip_224"
reg[name] = partial(reg[name], depth=2)   # full width 1792, 16 heads, MLP 15360; 2 of 64 blocks
torch.manual_seed(0)
model = open_clip.create_model("EVA02-E-14", pretrained=None).eval()
for n, p in model.visual.trunk.named_parameters():   # away from timm's near-identity init
    if p.ndim > 1 and n not in ("cls_token", "pos_embed"):
        p.data = torch.randn(p.shape) / p[0].numel() ** 0.5
save_file({k: v.float().contiguous() for k, v in model.state_dict().items()}, out / "open_clip_model.safetensors")
cfg = open_clip.get_model_config("EVA02-E-14")
(out / "open_clip_config.json").write_text(json.dumps({"model_cfg": cfg, "preprocess_cfg": {}}))
shutil.copy(ROOT / "tests/fixtures/tiny-openclip/tokenizer.json", out / "tokenizer.json")
rng = np.random.default_rng(0)
img = Image.fromarray(rng.integers(0, 256, (224, 224, 3), dtype=np.uint8)); img.save(work / "img.png")
tf = open_clip.image_transform(224, is_train=False)
with torch.no_grad():
    e = model.encode_image(tf(img)[None]); e = e / e.norm(dim=-1, keepdim=True)
    t = model.encode_text(open_clip.get_tokenizer("EVA02-E-14")(["a photo of a dog"])); t = t / t.norm(dim=-1, keepdim=True)
r = subprocess.run([str(ROOT / "target/release/clipscope"), "embed", "-m", str(out), "--json", "-t", "a photo of a dog", str(work / "img.png")], capture_output=True, text=True)
rows = [json.loads(l) for l in r.stdout.splitlines()]
print(r.stderr[-300:])
print("text", np.abs(np.array(rows[0]["embedding"]) - t[0].numpy()).max(), "image", np.abs(np.array(rows[1]["embedding"]) - e[0].numpy()).max())
r = subprocess.run([str(ROOT / "target/release/clipscope"), "decompose", "-m", str(out), "--json", "--layers", "all", str(work / "img.png")], capture_output=True, text=True)
d = json.loads(r.stdout.splitlines()[0])
H, M, E = np.array(d["heads"]), np.array(d["mlps"]), np.array(d["embedding"])
print("identity", np.abs(H.sum((0, 1)) + M.sum(0) - E).max(), "vs open_clip", np.abs(E - e[0].numpy()).max())
