"""Writes clipscope's fixture for Perception Encoder (open_clip PE-Core-B-16, -L-14-336, …): a tiny
random model of timm's `vit_pe_core_base_patch16_224` layout and what open_clip computes for it.

    pip install torch==2.5.1 open_clip_torch==3.3.0 timm==1.0.31 pillow numpy safetensors
    python3 tools/make_pecore_fixtures.py tests/fixtures

tests/fixtures/tiny-openclip-pecore   open_clip's PE-Core-B-16 config (`timm_model_name`
                                      vit_pe_core_base_patch16_224, `timm_pool` map, `timm_proj`
                                      null, `custom_text`, text context 32) over a trunk made by
                                      that timm model function at width 96 of its 12 heads, 2
                                      blocks, 32 px (2x2 patches: the rotary grid, offset 1 and x
                                      first, rescaled to its 14x14 reference), `norm_pre`, the
                                      attention pool of 8 heads with its MLP, the head's bias.
tests/fixtures/tiny-openclip-pecore-bigg   the same of vit_pe_core_gigantic_patch14_448 (PE-Core-
                                      bigG-14-448): no class token, rotary offset 0 on a 32x32
                                      reference grid; width 128 of its 16 heads, 2 blocks, 28 px.

As in tools/make_eva_fixtures.py, the trunk's parameters are drawn again, larger.

The decomposition is that of clip_text_span's compute_siglip.py at the attention pool, through the
projection after it: with the pooled p = a + MLP(LN(a)), a = sum_h sum_j A[h,j] v_hj W_O,h + b_O,
and e = p P + b, token j of pool head h gives (A[h,j] v_hj W_O,h + b_O/(T*H)) P / |e|, the MLP
MLP(LN(a)) P / |e| and the projection's bias b / |e| (the decomposition's row 0). It is checked
against open_clip's encode_image before anything is written.
"""
import json, pathlib, sys
from functools import partial

import numpy as np
import open_clip
import timm
import torch

import make_openclip_fixtures as base
from make_eva_fixtures import redraw

# (fixture, timm model, side, width)
VARIANTS = [
    ("tiny-openclip-pecore", "vit_pe_core_base_patch16_224", 32, 96),
    ("tiny-openclip-pecore-bigg", "vit_pe_core_gigantic_patch14_448", 28, 128),
]


def config(timm_name, side):
    return {
        "embed_dim": 32,
        "vision_cfg": {"image_size": side, "timm_model_name": timm_name,
                       "timm_model_pretrained": False, "timm_pool": "map", "timm_proj": None},
        "text_cfg": {"context_length": 32, "vocab_size": 49408, "width": 32, "heads": 4,
                     "layers": 2},
        "custom_text": True,
    }


def decompose(model, px):
    """(e, heads [N,1,H,E], tokens [N,1,T,H,E], mlps [N,2,E]) in float64."""
    tr = model.visual.trunk
    x = tr.forward_features(px)  # norm included
    n, T, D = x.shape
    pool = tr.attn_pool
    H = pool.num_heads
    d = D // H
    q = pool.q(pool.latent).view(1, H, 1, d)
    k, v = pool.kv(x).view(n, T, 2, H, d).permute(2, 0, 3, 1, 4)
    a = torch.softmax(q @ k.transpose(-1, -2) / d ** 0.5, -1)[:, :, 0]  # [n,H,T]
    z = (a[..., None] * v).sum(2)  # [n,H,d]
    att = z.reshape(n, D) @ pool.proj.weight.T + pool.proj.bias
    mlp = pool.mlp(pool.norm(att))
    P, b = tr.head.weight.T, tr.head.bias
    e = (att + mlp) @ P + b
    norm = e.norm(dim=-1, keepdim=True)
    wo = pool.proj.weight.view(D, H, d)  # [D_out, H, d]
    c = torch.einsum("nhj,nhjd,ohd->njho", a, v, wo) + pool.proj.bias / (T * H)
    tokens = (c @ P) / norm[:, None, None, :]  # [n,T,H,E]
    mlps = torch.stack([b.expand(n, -1) / norm, (mlp @ P) / norm], 1)
    return e, tokens.sum(1)[:, None], tokens[:, None], mlps


def write(root, name, timm_name, side, width):
    out = pathlib.Path(root) / name
    (out / "images").mkdir(parents=True, exist_ok=True)
    texts = json.loads((pathlib.Path(root) / "tiny-openclip" / "reference.json").read_text())["texts"]
    registry = timm.models._registry._model_entrypoints
    registry[timm_name] = partial(registry[timm_name], embed_dim=width, depth=2, img_size=side)
    cfg = config(timm_name, side)
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    open_clip.factory._MODEL_CONFIGS[name] = cfg
    model = open_clip.create_model(name, pretrained=None).eval().double()
    trunk = model.visual.trunk
    assert trunk.attn_pool.num_heads == 8 and trunk.rope.grid_indexing == "xy"
    redraw(trunk, torch.Generator().manual_seed(1))
    tokenizer = open_clip.get_tokenizer("ViT-B-32", context_length=32)
    made_with = {"torch": torch.__version__, "open_clip": open_clip.__version__,
                 "timm": timm.__version__}
    base.write_reference(out, model, decompose, tokenizer, texts, cfg,
                         __doc__.split("\n\n")[-1].strip(), rng,
                         copy_tokenizer=pathlib.Path(root) / "tiny-openclip", made_with=made_with)


def main(root):
    for variant in VARIANTS:
        write(root, *variant)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures")
