"""Writes clipscope's fixture for EVA-02 CLIP (open_clip EVA02-B-16, EVA02-L-14, EVA02-L-14-336): a
tiny random model of timm's `eva02_base_patch16_clip_224` layout and what open_clip computes for it.

    pip install torch==2.5.1 open_clip_torch==3.3.0 timm==1.0.31 pillow numpy safetensors
    python3 tools/make_eva_fixtures.py tests/fixtures

tests/fixtures/tiny-openclip-eva02   open_clip's EVA02-B-16 config (`timm_model_name`
                                     eva02_base_patch16_clip_224, `timm_pool` token, `timm_proj`
                                     null, `custom_text`) over a trunk made by that timm model
                                     function with a smaller width, depth and image: width 96 of its
                                     12 heads (d = 8), 2 blocks, 32 px (2x2 patches of 16, so the
                                     rotary grid is rescaled to the 16x16 reference grid), SwiGLU
                                     with its inner LayerNorm, the sub-LN before attn.proj, q/k/v
                                     with k unbiased, the head's bias. Text width 32, embed 32.

tests/fixtures/tiny-openclip-eva02-e open_clip's EVA02-E-14 config over timm's
                                     `eva02_enormous_patch14_clip_224` at width 64 of its 16 heads
                                     (d = 4), 2 blocks, 28 px (2x2 patches of 14): post-norm blocks
                                     (x + norm1(attn(x)), x + norm2(mlp(x)), no LayerNorm before
                                     either), one bias-free qkv with q_bias and v_bias, a GELU MLP,
                                     no rotary embedding. norm1 couples the heads as the sub-LN
                                     does and is linearised at the class row with its own scale:
                                     head h's term for token j is
                                     ((pad_h(A[h,0,j] v_hj) W_P^T centred) * gamma / sigma
                                     + ((b_P centred) * gamma / sigma + beta)/(T*H), sigma the scale
                                     of the class row's projected attention output.

timm's initialisation leaves the trunk close to the identity (attention near uniform); the
trunk's parameters are drawn again, larger, so that every part (rope, sub-LN, gate) matters.

The decomposition is computed in float64 from the module's weights in prs_hook's convention,
read at the class token, with the sub-LN inside each attention linearised at the class row with
that row's own statistics as ln_post is: head h's term for token j is
((pad_h(A[h,0,j] v_hj) - mean(pad_h(A[h,0,j] v_hj))) * gamma / sigma) W_P + (beta W_P + b_P)/(T*H),
sigma the sub-LN's scale of the class row's merged heads. The final `norm` is linearised as ln_post
and the head's bias is shared out with beta's shares. It is checked against open_clip's
encode_image before anything is written.
"""
import json, pathlib, sys
from functools import partial

import numpy as np
import open_clip
import timm
import torch
from timm.layers import apply_rot_embed_cat

import make_openclip_fixtures as base

NAME = "tiny-openclip-eva02"
TIMM = "eva02_base_patch16_clip_224"
SIDE = 32
CFG = {
    "embed_dim": 32,
    "vision_cfg": {"image_size": SIDE, "timm_model_name": TIMM, "timm_model_pretrained": False,
                   "timm_pool": "token", "timm_proj": None},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 4, "layers": 2},
    "custom_text": True,
}


def redraw(trunk, gen):
    for name, p in trunk.named_parameters():
        if p.ndim == 1 and ("norm" in name):
            p.data = (1.0 if name.endswith("weight") else 0.0) + 0.2 * torch.randn(p.shape, generator=gen, dtype=p.dtype)
        elif p.ndim == 1:
            p.data = 0.1 * torch.randn(p.shape, generator=gen, dtype=p.dtype)
        elif name in ("cls_token", "pos_embed"):
            p.data = 0.5 * torch.randn(p.shape, generator=gen, dtype=p.dtype)
        else:
            fan_in = p[0].numel()
            p.data = torch.randn(p.shape, generator=gen, dtype=p.dtype) * 1.5 / fan_in ** 0.5


def tokens(tr, px):
    """The trunk's tokens (class token first, positions added) and (n, T, D, H, d)."""
    n = px.shape[0]
    x = tr.patch_embed(px)
    x = torch.cat([tr.cls_token.expand(n, -1, -1), x], 1) + tr.pos_embed
    T, D = x.shape[1], x.shape[2]
    H = tr.blocks[0].attn.num_heads
    return x, (n, T, D, H, D // H)


def padded_parts(a, v, D):
    """Each (token, head) part of the class row's merged heads, zero-padded to width D:
    [n, T, H, D], A[h,0,j] v_hj in head h's slot."""
    n, H, T, d = v.shape
    part = torch.zeros(n, T, H, D, dtype=v.dtype)
    for h in range(H):
        part[:, :, h, h * d:(h + 1) * d] = a[:, h, 0, :, None] * v[:, h]
    return part


def decompose(model, px):
    """(e, heads [N,L,H,E], tokens [N,L,T,H,E], mlps [N,L+1,E]) in float64."""
    tr = model.visual.trunk
    x, (n, T, D, H, d) = tokens(tr, px)
    rope = tr.rope.get_embed()
    p = x[:, 0]
    cs, fs = [], []
    for blk in tr.blocks:
        at = blk.attn
        y = blk.norm1(x)
        split = lambda t: t.view(n, T, H, d).transpose(1, 2)
        q, k, v = split(at.q_proj(y)), split(at.k_proj(y)), split(at.v_proj(y))
        q = torch.cat([q[:, :, :1], apply_rot_embed_cat(q[:, :, 1:], rope)], 2)
        k = torch.cat([k[:, :, :1], apply_rot_embed_cat(k[:, :, 1:], rope)], 2)
        a = torch.softmax(q @ k.transpose(-1, -2) / d ** 0.5, -1)  # [n,H,T,T]
        merged = (a @ v).transpose(1, 2).reshape(n, T, D)
        x = x + at.proj(at.norm(merged))
        # Class row: the sub-LN's scale, and each (token, head) part of the merged heads.
        o = merged[:, 0]
        sigma = torch.sqrt(o.var(-1, unbiased=False) + at.norm.eps)  # [n]
        part = padded_parts(a, v, D)
        part = part - part.mean(-1, keepdim=True)
        wp, bp = at.proj.weight, at.proj.bias
        c = (part * at.norm.weight / sigma[:, None, None, None]) @ wp.T
        c = c + (at.norm.bias @ wp.T + bp) / (T * H)
        cs.append(c)
        f = blk.mlp(blk.norm2(x))
        x = x + f
        fs.append(f[:, 0])
    return base.linearised_terms(p, cs, fs, x[:, 0], tr.norm, tr.head.weight.T, tr.head.bias)

def decompose_post_norm(model, px):
    """decompose() for EVA-02-E's post-norm blocks, in float64."""
    tr = model.visual.trunk
    x, (n, T, D, H, d) = tokens(tr, px)
    p = x[:, 0]
    cs, fs = [], []
    for blk in tr.blocks:
        at = blk.attn
        bias = torch.cat([at.q_bias, torch.zeros_like(at.q_bias), at.v_bias])
        qkv = torch.nn.functional.linear(x, at.qkv.weight, bias)
        q, k, v = qkv.view(n, T, 3, H, d).permute(2, 0, 3, 1, 4)
        a = torch.softmax(q @ k.transpose(-1, -2) / d ** 0.5, -1)  # [n,H,T,T]
        merged = (a @ v).transpose(1, 2).reshape(n, T, D)
        y = at.proj(merged)
        x = x + blk.norm1(y)
        # Class row: norm1's scale of the projected output, each (token, head) part through W_P.
        sigma = torch.sqrt(y[:, 0].var(-1, unbiased=False) + blk.norm1.eps)  # [n]
        wp, bp = at.proj.weight, at.proj.bias
        proj = padded_parts(a, v, D) @ wp.T
        proj = proj - proj.mean(-1, keepdim=True)
        g, beta = blk.norm1.weight, blk.norm1.bias
        c = proj * g / sigma[:, None, None, None]
        c = c + (((bp - bp.mean()) * g)[None] / sigma[:, None] + beta)[:, None, None] / (T * H)
        cs.append(c)
        f = blk.norm2(blk.mlp(x))
        x = x + f
        fs.append(f[:, 0])
    return base.linearised_terms(p, cs, fs, x[:, 0], tr.norm, tr.head.weight.T, tr.head.bias)


def timm_fixture(root, name, cfg, timm_name, sizes, decompose, convention, check):
    """Writes fixture `name`: open_clip's `cfg` over timm's `timm_name` model function with the
    tiny `sizes` as its own overrides, its trunk checked by `check` and redrawn, and what open_clip
    computes for it (make_openclip_fixtures.write_reference, CLIP's BPE and the shared texts)."""
    src = pathlib.Path(root) / "tiny-openclip"
    texts = json.loads((src / "reference.json").read_text())["texts"]
    registry = timm.models._registry._model_entrypoints
    registry[timm_name] = partial(registry[timm_name], **sizes)
    out = pathlib.Path(root) / name
    (out / "images").mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    open_clip.factory._MODEL_CONFIGS[name] = cfg
    model = open_clip.create_model(name, pretrained=None).eval().double()
    check(model)
    redraw(model.visual.trunk, torch.Generator().manual_seed(1))
    made_with = {"torch": torch.__version__, "open_clip": open_clip.__version__,
                 "timm": timm.__version__}
    base.write_reference(out, model, decompose, open_clip.get_tokenizer("ViT-B-32"), texts, cfg,
                         convention, rng, copy_tokenizer=src, made_with=made_with)


def enormous(root):
    """tiny-openclip-eva02-e: EVA02-E-14's post-norm trunk at tiny sizes."""
    timm_name, side = "eva02_enormous_patch14_clip_224", 28
    cfg = json.loads(json.dumps(CFG))
    cfg["vision_cfg"].update(image_size=side, timm_model_name=timm_name)

    def check(model):
        trunk = model.visual.trunk
        assert type(trunk.blocks[0]).__name__ == "EvaBlockPostNorm" and trunk.rope is None
        assert trunk.blocks[0].attn.num_heads == 16 and trunk.blocks[0].attn.q_bias is not None

    convention = ("prs_hook's convention read at the class token, each block's norm1 (post-norm) "
                  "linearised at the class row with that row's own statistics as ln_post is: "
                  "head h's term for token j is ((pad_h(A[h,0,j] v_hj) W_P^T - its mean) * gamma "
                  "/ sigma + ((b_P - mean(b_P)) * gamma / sigma + beta)/(T*H), sigma norm1's scale "
                  "of the class row's projected attention output; the MLP's term is norm2(mlp(x)) "
                  "at the class row; the final norm as ln_post, the head's bias shared as beta.")
    timm_fixture(root, "tiny-openclip-eva02-e", cfg, timm_name,
                 {"embed_dim": 64, "depth": 2, "img_size": side}, decompose_post_norm, convention,
                 check)


def main(root):
    def check(model):
        trunk = model.visual.trunk
        assert type(trunk).__name__ == "Eva" and trunk.blocks[0].attn.num_heads == 12
        assert trunk.rope.ref_feat_shape == (16, 16) and trunk.patch_embed.grid_size == (2, 2)

    timm_fixture(root, NAME, CFG, TIMM, {"embed_dim": 96, "depth": 2, "img_size": SIDE},
                 decompose, __doc__.split("\n\n")[-1].strip(), check)
    enormous(root)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures")
