"""Writes clipscope's fixtures for the large open_clip layouts of 2024-26 (DFN5B ViT-H-14,
MetaCLIP / LAION ViT-H-14 and ViT-bigG-14, ViT-L-14-336): a tiny random model with their
distinguishing features and what open_clip computes for it.

    pip install torch==2.5.1 open_clip_torch==3.3.0 pillow numpy safetensors
    python3 tools/make_openclip_fixtures.py tests/fixtures

tests/fixtures/tiny-openclip-bigg   open_clip layout with QuickGELU (DFN5B and the -quickgelu
                                    variants), bigG's mlp_ratio 4.9231 (an MLP width that is not a
                                    whole multiple of the width), patch 14 at 42 px (3x3 patches, as
                                    378 px gives 27x27 and 336 px 24x24), width 64 of 4 heads x 3
                                    layers, text width 32, embed 32.

The folder gets open_clip_config.json, open_clip_model.safetensors, the real CLIP BPE tokenizer
(tokenizer.json, from tests/fixtures/tiny-openclip), images/ (img00..img05 at 42 px, big00..big02
non-square, through open_clip's own eval transform: bicubic shortest-side resize, centre crop),
reference.json (file names, texts, the convention, versions) and reference.safetensors with the
keys of tiny-openclip's: pixel_values, image_embeds, heads, tokens, mlps, input_ids, text_embeds,
big_pixel_values, big_image_embeds.

The big images go through open_clip's own eval transform, which resizes the PIL image with
Pillow: 22-bit filter taps, and (Pillow 13) sometimes the vertical pass first. clipscope
resamples as transformers' processor does (torchvision's int16 taps, horizontal first), which
puts some resized pixels one or two levels apart; reference.json says so (`big_images_through`),
and tests/parity.rs compares those pixels within two levels and the embeddings by cosine.

The decomposition is computed in float64 from the model's own weights in the convention of
clip_text_span's prs_hook.py (written out in reference.json), and checked against open_clip's
encode_image before anything is written.
"""
import json, pathlib, shutil, sys

import numpy as np
import open_clip
import torch
from PIL import Image
from safetensors.torch import save_file

NAME = "tiny-openclip-bigg"
CFG = {
    "embed_dim": 32,
    "quick_gelu": True,
    "vision_cfg": {"image_size": 42, "layers": 3, "width": 64, "head_width": 16,
                   "patch_size": 14, "mlp_ratio": 4.9231},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 4,
                 "layers": 2, "mlp_ratio": 4.9231},
}
MEAN = [0.48145466, 0.4578275, 0.40821073]
STD = [0.26862954, 0.26130258, 0.27577711]


def images(out, rng, side=None):
    side = side or CFG["vision_cfg"]["image_size"]
    names, big = [], []
    for i in range(6):
        a = rng.integers(0, 256, (side, side, 3), dtype=np.uint8)
        a[: side // 2, :, i % 3] = 255 - 40 * i
        Image.fromarray(a).save(out / f"img{i:02d}.png")
        names.append(f"img{i:02d}.png")
    for i, (w, h) in enumerate([(97, 61), (50, 120), (200, 133)]):
        y, x = np.mgrid[0:h, 0:w]
        a = np.stack([(x * 255 // w), (y * 255 // h), ((x + y + 40 * i) % 256)], -1)
        Image.fromarray(a.astype(np.uint8)).save(out / f"big{i:02d}.png")
        big.append(f"big{i:02d}.png")
    return names, big


def quick_gelu(x):
    return x * torch.sigmoid(1.702 * x)


def layer_norm(x, ln):
    return torch.nn.functional.layer_norm(x, x.shape[-1:], ln.weight, ln.bias, ln.eps)


CLASS_ROW = (lambda x: x[:, 0], lambda a: a[:, :, 0, :])
"""The readout of the paper's layout: the class token's row, and its attention row."""


def decompose(model, px, head_width=None, readout=CLASS_ROW):
    """(e, heads [N,L,H,E], tokens [N,L,T,H,E], mlps [N,L+1,E]) in float64, prs_hook's convention,
    read where `readout` says: (the residual's row [n,T,D] -> [n,D], the attention's [n,H,T,T]
    -> [n,H,T]); CLIPA's patch mean gives both as means over the patch queries."""
    row, attn_row = readout
    v = model.visual
    n = px.shape[0]
    x = v.conv1(px).flatten(2).transpose(1, 2)
    cls = v.class_embedding.expand(n, 1, -1)
    x = torch.cat([cls, x], 1) + v.positional_embedding
    x = v.ln_pre(x)
    p = row(x)
    layers = v.transformer.resblocks
    T, D = x.shape[1], x.shape[2]
    H = D // (head_width or CFG["vision_cfg"]["head_width"])
    d = D // H
    cs, fs = [], []
    for blk in layers:
        y = blk.ln_1(x)
        attn = blk.attn
        qkv = y @ attn.in_proj_weight.T + attn.in_proj_bias
        q, k, val = qkv.split(D, -1)
        q = q.view(n, T, H, d).transpose(1, 2)
        k = k.view(n, T, H, d).transpose(1, 2)
        val = val.view(n, T, H, d).transpose(1, 2)
        a = torch.softmax(q @ k.transpose(-1, -2) / d ** 0.5, -1)  # [n,H,T,T]
        out = (a @ val).transpose(1, 2).reshape(n, T, D)
        x = x + out @ attn.out_proj.weight.T + attn.out_proj.bias
        # The readout query's contribution per source token j and head h.
        wo = attn.out_proj.weight.view(D, H, d)  # [D_out, H, d]
        c = torch.einsum("nhj,nhjd,ohd->njho", attn_row(a), val, wo)
        c = c + attn.out_proj.bias / (T * H)
        cs.append(c)
        f = blk.mlp(blk.ln_2(x))
        x = x + f
        fs.append(row(f))
    return linearised_terms(p, cs, fs, row(x), v.ln_post, v.proj)


def linearised_terms(p, cs, fs, r, ln, P, b=None):
    """(e, heads, tokens, mlps) from the pre term p, each layer's (token, head) terms cs
    [n,T,H,D] and MLP terms fs, and the readout residual r: prs_hook's convention, the final
    LayerNorm `ln` linearised with r's statistics, then the projection x @ P (+ b, its bias shared
    out with beta's shares), each term divided by |e|."""
    L, (T, H) = len(cs), cs[0].shape[1:3]
    mu = r.mean(-1, keepdim=True)
    s = torch.sqrt(r.var(-1, unbiased=False, keepdim=True) + ln.eps)
    e = layer_norm(r, ln) @ P
    if b is not None:
        e = e + b
    norm = e.norm(dim=-1, keepdim=True)
    K = 2 * L + 1

    def proj(term, w, shape_mu, shape_s):
        t = (ln.weight * (term - w * shape_mu) / shape_s + w * ln.bias) @ P
        return t if b is None else t + w * b

    w_c = 1.0 / (K * T * H)
    tokens = torch.stack([
        proj(c, w_c, mu[:, None, None, :], s[:, None, None, :]) / norm[:, None, None, :]
        for c in cs], 1)  # [n,L,T,H,E]
    mlps = [proj(p, 1.0 / K, mu, s) / norm] + [proj(f, 1.0 / K, mu, s) / norm for f in fs]
    mlps = torch.stack(mlps, 1)
    heads = tokens.sum(2)
    return e, heads, tokens, mlps

def main(root):
    out = pathlib.Path(root) / NAME
    (out / "images").mkdir(parents=True, exist_ok=True)
    # The shared fixture's texts, so that every CLIP fixture answers the same questions.
    texts = json.loads((pathlib.Path(root) / "tiny-openclip" / "reference.json").read_text())["texts"]
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    open_clip.factory._MODEL_CONFIGS[NAME] = CFG
    model = open_clip.create_model(NAME, pretrained=None).eval().double()
    assert isinstance(model.visual.transformer.resblocks[0].mlp.gelu, open_clip.transformer.QuickGELU)
    tokenizer = open_clip.get_tokenizer("ViT-B-32")
    src = pathlib.Path(root) / "tiny-openclip"
    convention = json.loads((src / "reference.json").read_text())["decomposition"]
    write_reference(out, model, decompose, tokenizer, texts, CFG, convention, rng,
                    copy_tokenizer=src)


def write_reference(out, model, decompose, tokenizer, texts, cfg, convention, rng,
                    copy_tokenizer=None, made_with=None, ascii=True):
    """The fixture's images, what `model` computes for them and `texts`, checked, and the files
    clipscope's tests read: reference.safetensors, open_clip_model.safetensors,
    open_clip_config.json, reference.json, and the tokenizer files of `copy_tokenizer` (a folder)
    where the fixture has none of its own. `decompose(model, px)` gives (e, heads, tokens, mlps) in
    float64, checked against `encode_image` and the unit embedding before anything is written."""
    side = cfg["vision_cfg"]["image_size"]
    transform = open_clip.image_transform(side, is_train=False, mean=MEAN, std=STD)
    names, big = images(out / "images", rng, side)
    load = lambda fs: torch.stack([transform(Image.open(out / "images" / f).convert("RGB"))
                                   for f in fs]).double()
    px, big_px = load(names), load(big)
    with torch.no_grad():
        e, heads, tokens, mlps = decompose(model, px)
        ref = model.encode_image(px)
        assert torch.allclose(e, ref, atol=1e-10), (e - ref).abs().max()
        unit = ref / ref.norm(dim=-1, keepdim=True)
        total = heads.sum((1, 2)) + mlps.sum(1)
        assert torch.allclose(total, unit, atol=1e-10), (total - unit).abs().max()
        ids = tokenizer(texts)
        text = model.encode_text(ids)
        big_e = model.encode_image(big_px)
    f32 = lambda t: t.float().contiguous()
    save_file({
        "pixel_values": f32(px), "image_embeds": f32(ref), "heads": f32(heads),
        "tokens": f32(tokens), "mlps": f32(mlps), "input_ids": ids.to(torch.int64).contiguous(),
        "text_embeds": f32(text), "big_pixel_values": f32(big_px), "big_image_embeds": f32(big_e),
    }, out / "reference.safetensors")
    state = {k: f32(v) for k, v in model.state_dict().items()}
    save_file(state, out / "open_clip_model.safetensors")
    config = {"model_cfg": cfg, "preprocess_cfg": {"mean": MEAN, "std": STD}}
    (out / "open_clip_config.json").write_text(json.dumps(config, indent=1))
    if copy_tokenizer is not None:
        for f in ("tokenizer.json", "tokenizer_config.json"):
            shutil.copy(copy_tokenizer / f, out / f)
    made_with = made_with or {"torch": torch.__version__, "open_clip": open_clip.__version__}
    (out / "reference.json").write_text(json.dumps({
        "images": names, "big_images": big, "texts": texts, "decomposition": convention,
        "big_images_through": "open_clip.image_transform (Pillow resize)",
        "made_with": made_with,
    }, indent=1, ensure_ascii=ascii))
    print(f"wrote {out}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures")
