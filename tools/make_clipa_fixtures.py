"""Writes clipscope's fixture for CLIPA (open_clip ViT-H-14-CLIPA, ViT-bigG-14-CLIPA …): a tiny
random model with the family's distinguishing features and what open_clip computes for it.

    pip install torch==2.5.1 open_clip_torch==3.3.0 transformers==4.57.6 pillow numpy safetensors
    python3 tools/make_clipa_fixtures.py tests/fixtures

tests/fixtures/tiny-openclip-clipa   the CLIPA layout: no ln_pre, the image embedding is ln_post of
                                     the mean of the patch rows (`pool_type` avg,
                                     `final_ln_after_pool`), GELU; a bidirectional text tower
                                     (`no_causal_mask`) read at the context's last position
                                     (`pool_type` last), context 32, and a BERT WordPiece
                                     tokenizer (`hf_tokenizer_name` bert-base-uncased,
                                     `strip_sep_token`). Patch 14 at 42 px (3x3 patches), width 64
                                     of 4 heads x 3 layers, text width 32, embed 32.

bert-base-uncased's own vocabulary cannot be downloaded here, so the fixture's tokenizer is a BERT
WordPiece tokenizer (transformers' BertTokenizerFast: the same normaliser, pre-tokeniser and
[CLS] … [SEP] template, [PAD] 0, [UNK] 100, [CLS] 101, [SEP] 102) over a small vocabulary made
from the texts' words, some split into pieces; open_clip's HFTokenizer is pointed at it.

The decomposition is computed in float64 from the module's weights in the convention of
clip_text_span's prs_hook.py with the readout row replaced by the patches' mean: a component's
term is its mean over the patch queries (each head's token j: the mean over the patch queries of
the attention to j, times v_j W_O), and ln_post is linearised with the mean row's statistics. It is
checked against open_clip's encode_image before anything is written.
"""
import json, pathlib, shutil, sys

import numpy as np
import open_clip
import torch
from safetensors.torch import save_file
from transformers import BertTokenizerFast

from make_openclip_fixtures import MEAN, STD, images, layer_norm

NAME = "tiny-openclip-clipa"
CONTEXT = 32
EXTRA_TEXTS = [
    "Café DÉJÀ vu, naïve façade",
    "a " + "very " * 40 + "long caption that the context of 32 truncates",
]
SPECIAL = {0: "[PAD]", 100: "[UNK]", 101: "[CLS]", 102: "[SEP]", 103: "[MASK]"}


def vocabulary(texts):
    """BERT's special ids in place, then the words of `texts` (lower-cased, accents stripped by
    the normaliser) with every third word left out and spelt by pieces instead."""
    words = sorted({w for t in texts for w in t.lower().split()})
    vocab = [SPECIAL.get(i, f"[unused{i}]") for i in range(104)]
    vocab += list("abcdefghijklmnopqrstuvwxyz0123456789!,.'\"-")
    vocab += ["##" + c for c in "abcdefghijklmnopqrstuvwxyz0123456789"]
    clean = lambda w: "".join(c for c in w if c.isalnum())
    kept = [clean(w) for i, w in enumerate(words) if i % 3 and clean(w)]
    vocab += ["cafe", "deja", "naive", "fac", "##ade", "ver", "##y", "tin", "##y"]
    return list(dict.fromkeys(vocab + kept))


def make_tokenizer(out, texts):
    vocab = vocabulary(texts)
    tmp = out / "vocab.txt"
    tmp.write_text("\n".join(vocab) + "\n")
    tok = BertTokenizerFast(vocab_file=str(tmp), do_lower_case=True)
    tok.save_pretrained(out)
    for f in ("vocab.txt", "special_tokens_map.json"):
        (out / f).unlink(missing_ok=True)
    return len(vocab)


def config(vocab_size):
    return {
        "embed_dim": 32,
        "vision_cfg": {"image_size": 42, "layers": 3, "width": 64, "head_width": 16,
                       "patch_size": 14, "no_ln_pre": True, "pool_type": "avg",
                       "final_ln_after_pool": True},
        "text_cfg": {"context_length": CONTEXT, "vocab_size": vocab_size,
                     "hf_tokenizer_name": "bert-base-uncased",
                     "tokenizer_kwargs": {"strip_sep_token": True}, "width": 32, "heads": 4,
                     "layers": 2, "pool_type": "last", "no_causal_mask": True},
    }


def decompose(model, px, head_width):
    """(e, heads [N,L,H,E], tokens [N,L,T,H,E], mlps [N,L+1,E]) in float64, prs_hook's convention
    read at the patches' mean."""
    v = model.visual
    n = px.shape[0]
    x = v.conv1(px).flatten(2).transpose(1, 2)
    cls = v.class_embedding.expand(n, 1, -1)
    x = torch.cat([cls, x], 1) + v.positional_embedding
    assert isinstance(v.ln_pre, torch.nn.Identity)
    p = x[:, 1:].mean(1)
    layers = v.transformer.resblocks
    L, T, D = len(layers), x.shape[1], x.shape[2]
    H = D // head_width
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
        # The patch queries' mean contribution per source token j and head h.
        wo = attn.out_proj.weight.view(D, H, d)  # [D_out, H, d]
        c = torch.einsum("nhj,nhjd,ohd->njho", a[:, :, 1:, :].mean(2), val, wo)
        c = c + attn.out_proj.bias / (T * H)
        cs.append(c)
        f = blk.mlp(blk.ln_2(x))
        x = x + f
        fs.append(f[:, 1:].mean(1))
    r = x[:, 1:].mean(1)
    ln = v.ln_post
    mu = r.mean(-1, keepdim=True)
    s = torch.sqrt(r.var(-1, unbiased=False, keepdim=True) + ln.eps)
    e = layer_norm(r, ln) @ v.proj
    norm = e.norm(dim=-1, keepdim=True)
    K = 2 * L + 1

    def proj(term, w, shape_mu, shape_s):
        return ((ln.weight * (term - w * shape_mu) / shape_s + w * ln.bias) @ v.proj)

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
    texts = json.loads((pathlib.Path(root) / "tiny-openclip" / "reference.json").read_text())["texts"]
    texts = texts + EXTRA_TEXTS
    vocab_size = make_tokenizer(out, texts)
    cfg = config(vocab_size)
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    open_clip.factory._MODEL_CONFIGS[NAME] = cfg
    model = open_clip.create_model(NAME, pretrained=None).eval().double()
    assert model.visual.final_ln_after_pool and model.visual.pool_type == "avg"
    assert model.attn_mask is None and model.text_pool_type == "last"
    # open_clip's HFTokenizer as CLIPA's config builds it, pointed at the local vocabulary.
    tokenizer = open_clip.tokenizer.HFTokenizer(str(out), context_length=CONTEXT,
                                                strip_sep_token=True)
    transform = open_clip.image_transform(cfg["vision_cfg"]["image_size"], is_train=False,
                                          mean=MEAN, std=STD)
    names, big = images(out / "images", rng)
    from PIL import Image
    load = lambda fs: torch.stack([transform(Image.open(out / "images" / f).convert("RGB"))
                                   for f in fs]).double()
    px, big_px = load(names), load(big)
    with torch.no_grad():
        e, heads, tokens, mlps = decompose(model, px, cfg["vision_cfg"]["head_width"])
        ref = model.encode_image(px)
        assert torch.allclose(e, ref, atol=1e-10), (e - ref).abs().max()
        unit = ref / ref.norm(dim=-1, keepdim=True)
        total = heads.sum((1, 2)) + mlps.sum(1)
        assert torch.allclose(total, unit, atol=1e-10), (total - unit).abs().max()
        ids = tokenizer(texts)
        assert (ids == 102).sum() == 0 and ids.shape[1] == CONTEXT
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
    config_json = {"model_cfg": cfg, "preprocess_cfg": {"mean": MEAN, "std": STD}}
    (out / "open_clip_config.json").write_text(json.dumps(config_json, indent=1))
    (out / "reference.json").write_text(json.dumps({
        "images": names, "big_images": big, "texts": texts,
        "decomposition": __doc__.split("\n\n")[-1].strip(),
        "big_images_through": "open_clip.image_transform (Pillow resize)",
        "made_with": {"torch": torch.__version__, "open_clip": open_clip.__version__,
                      "transformers": __import__("transformers").__version__},
    }, indent=1))
    print(f"wrote {out}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures")
