"""Writes clipscope's fixture for MobileCLIP 2's ViT (open_clip MobileCLIP2-L-14): a tiny random
model of timm's `vit_large_patch14_clip_224` layout and what open_clip computes for it.

    pip install torch==2.5.1 open_clip_torch==3.3.0 timm==1.0.31 pillow numpy safetensors
    python3 tools/make_mobileclip2_fixtures.py tests/fixtures

tests/fixtures/tiny-openclip-mobileclip2   open_clip's MobileCLIP2-L-14 config (`timm_model_name`
                                           vit_large_patch14_clip_224, `timm_pool` token,
                                           `timm_proj` null, `custom_text`, `no_causal_mask` text)
                                           over a trunk made by that timm model function at width
                                           64 of its 16 heads, 2 blocks, 28 px (2x2 patches of 14):
                                           timm's VisionTransformer (`norm_pre`, fused qkv, GELU
                                           MLP, `norm`, the head's bias). Text width 32, embed 32.

As in tools/make_eva_fixtures.py, the trunk's parameters are drawn again, larger.

The decomposition is clip_text_span's prs_hook.py convention read at the class token, with the
trunk's `norm` as ln_post and the head's bias shared out with beta's shares. It is checked against
open_clip's encode_image before anything is written.
"""
import sys

import torch

import make_openclip_fixtures as base
from make_eva_fixtures import timm_fixture, tokens

NAME = "tiny-openclip-mobileclip2"
TIMM = "vit_large_patch14_clip_224"
SIDE = 28
CFG = {
    "embed_dim": 32,
    "vision_cfg": {"timm_model_name": TIMM, "timm_model_pretrained": False, "timm_pool": "token",
                   "timm_proj": None, "timm_drop": 0.0, "timm_drop_path": 0.1, "image_size": SIDE},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 4, "layers": 2,
                 "no_causal_mask": True},
    "custom_text": True,
}


def decompose(model, px):
    """(e, heads [N,L,H,E], tokens [N,L,T,H,E], mlps [N,L+1,E]) in float64."""
    tr = model.visual.trunk
    x, (n, T, D, H, d) = tokens(tr, px)
    x = tr.norm_pre(x)
    p = x[:, 0]
    cs, fs = [], []
    for blk in tr.blocks:
        at = blk.attn
        qkv = at.qkv(blk.norm1(x)).view(n, T, 3, H, d).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        a = torch.softmax(q @ k.transpose(-1, -2) / d ** 0.5, -1)  # [n,H,T,T]
        x = x + at.proj((a @ v).transpose(1, 2).reshape(n, T, D))
        wo = at.proj.weight.view(D, H, d)
        c = torch.einsum("nhj,nhjd,ohd->njho", a[:, :, 0, :], v, wo) + at.proj.bias / (T * H)
        cs.append(c)
        f = blk.mlp(blk.norm2(x))
        x = x + f
        fs.append(f[:, 0])
    return base.linearised_terms(p, cs, fs, x[:, 0], tr.norm, tr.head.weight.T, tr.head.bias)

def main(root):
    def check(model):
        trunk = model.visual.trunk
        assert type(trunk).__name__ == "VisionTransformer" and trunk.blocks[0].attn.num_heads == 16
        assert model.text.attn_mask is None

    timm_fixture(root, NAME, CFG, TIMM, {"embed_dim": 64, "depth": 2, "img_size": SIDE},
                 decompose, __doc__.split("\n\n")[-1].strip(), check)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures")
