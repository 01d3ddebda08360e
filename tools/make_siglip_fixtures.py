"""Writes clipscope's SigLIP reference fixtures: two tiny random SigLIP models and what
transformers computes for them.

    pip install torch==2.15.0 torchvision==0.29.2 transformers==5.24.0 sentencepiece==0.2.3 \
        protobuf pillow numpy
    python3 tools/make_siglip_fixtures.py tests/fixtures

tests/fixtures/tiny-siglip   SigLIP (v1) layout: `siglip` config, spiece.model tokenizer
                             (SentencePiece Unigram, SiglipTokenizer), 32 px / patch 8 (4x4),
                             width 64, 2 layers x 4 heads, text width 48.
tests/fixtures/tiny-siglip2  SigLIP 2 fixed-resolution layout: `siglip` config (as
                             google/siglip2-base-patch16-224 ships), tokenizer.json (a Gemma-style
                             byte-fallback BPE), 42 px / patch 8 (5x5: the last 2 px are not read, as in
                             So400m/14 at 384 px), width 96, 3 layers x 6 heads,
                             text width 64.

Each folder gets the model (config.json, model.safetensors, preprocessor_config.json, tokenizer
files), images/ (img00..img03 at the model's side, big00..big01 non-square that need the resize),
reference.json (file names, texts, convention, versions) and reference.safetensors:

- pixel_values [4,3,S,S] and big_pixel_values [2,3,S,S]: SiglipImageProcessor's output (the
  torchvision backend, `use_fast=True` as compute_siglip.py loads it).
- pooler_output [4,E], big_pooler_output [2,E]: SiglipVisionModel's pooler_output (unnormalised).
- tokens [4,T,H,E]: the pooling head's per-token per-head direct effect on the unit embedding,
  heads [4,H,E] (tokens summed over T), mlp [4,E]: see CONVENTION; heads.sum(1) + mlp equals
  pooler_output / ||pooler_output||.
- input_ids [N,64] (and attention_mask [N,64] when the tokenizer returns one): AutoTokenizer with
  padding="max_length", max_length=64, truncation=True, as compute_siglip.py calls it.
- text_embeds [N,E]: SiglipModel.get_text_features of those inputs (the text pooler_output).

tiny-siglip also holds spiece-bytes.model (a byte-fallback Unigram model without a normaliser
map) and spiece_reference.json: the ids the sentencepiece library gives for tricky texts with
either model.

Everything is computed in float64 from the modules' own weights, and the decomposition is checked
against the module's forward pass before anything is written.
"""
import json, pathlib, sys

import numpy as np
import sentencepiece as spm
import torch
import transformers
from PIL import Image
from safetensors.torch import save_file
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
from transformers import (AutoTokenizer, PreTrainedTokenizerFast, SiglipConfig,
                          SiglipImageProcessor, SiglipModel, SiglipTokenizer)

CONVENTION = """Pooling-head decomposition (clip_text_span compute_siglip.py, in its hook's terms).
x = post_layernorm(last encoder hidden state) [T, D] (SigLIP has no class token: T = patches).
The MAP head: q = probe W_q + b_q; k_j = x_j W_k + b_k; v_j = x_j W_v + b_v;
A[h, j] = softmax_j(q_h . k_hj / sqrt(d)); a = sum_h sum_j A[h,j] v_hj W_o[h-slice] + b_o;
pooler_output p = a + MLP(LN(a)) (SigLIP has no projection and no final norm).
tokens[j, h] = (A[h,j] v_hj W_o[h-slice] + b_o / (T*H)) / ||p||  (out_proj bias split evenly);
heads[h] = sum_j tokens[j, h]; mlp = MLP(LN(a)) / ||p|| (fc2 bias included).
Identity: heads.sum(0) + mlp == p / ||p||."""

TEXTS = [
    "a photo of a dog",
    "A RED car parked on the street.",
    "an image with many colors, stripes and patterns",
    "the number 3 written on a wall",
    "sunset over the ocean",
    "a   tiny   blue bird!!",
    "",
    "Ünïcödé café — naïve résumé",
    "a photo of a " + "very " * 80 + "long caption",
]


def corpus():
    data = pathlib.Path(__file__).resolve().parents[2] / "shared" / "data"
    lines = []
    for f in ("imagenet-classes.txt", "openai-imagenet-templates.txt"):
        p = data / f
        if p.exists():
            lines += [l.strip() for l in p.read_text().splitlines() if l.strip()]
    lines += TEXTS[:6] * 3
    return lines


def images(side, out):
    """Four images at the model's side and two non-square ones, smooth with some edges."""
    rng = np.random.default_rng(side)
    out.mkdir(parents=True, exist_ok=True)
    names = []
    for i, (w, h) in enumerate([(side, side)] * 4 + [(side * 2 + 3, side + 5), (side + 1, side * 3)]):
        yy, xx = np.mgrid[0:h, 0:w] / max(w, h)
        base = np.stack([np.sin(6 * xx + i), np.cos(5 * yy - i), np.sin(4 * (xx + yy))], -1)
        img = ((base * 0.5 + 0.5) * 200 + rng.integers(0, 55, (h, w, 3))).clip(0, 255)
        img[h // 3: h // 2, w // 4: w // 2] = rng.integers(0, 255, 3)
        name = f"img{i:02d}.png" if i < 4 else f"big{i - 4:02d}.png"
        Image.fromarray(img.astype(np.uint8)).save(out / name)
        names.append(name)
    return names[:4], names[4:]


def spiece_tokenizer(out):
    """A SentencePiece Unigram model with SigLIP's special ids (pad 0 unused, eos 1, unk 2)."""
    text = out / "corpus.txt"
    text.write_text("\n".join(l.lower() for l in corpus()))
    spm.SentencePieceTrainer.train(
        input=str(text), model_prefix=str(out / "spiece"), vocab_size=300, model_type="unigram",
        pad_id=0, eos_id=1, unk_id=2, bos_id=-1, pad_piece="<pad>", eos_piece="</s>",
        unk_piece="<unk>", character_coverage=1.0, normalization_rule_name="nmt_nfkc",
        num_threads=1, minloglevel=2)
    text.unlink()
    return save_spiece_tokenizer(out).sp_model.get_piece_size()


def save_spiece_tokenizer(out):
    """Saves a `SiglipTokenizer` for `out/spiece.model` (its .vocab removed) with a
    tokenizer_config.json listing only input_ids, as google/siglip-base-patch16-224's does."""
    (out / "spiece.vocab").unlink()
    tok = SiglipTokenizer(vocab_file=str(out / "spiece.model"), model_max_length=64)
    tok.save_pretrained(out)
    cfg_path = out / "tokenizer_config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg["model_input_names"] = ["input_ids"]
    cfg_path.write_text(json.dumps(cfg, indent=2))
    for extra in ("special_tokens_map.json", "added_tokens.json"):
        (out / extra).unlink(missing_ok=True)
    return tok


SP_TEXTS = ["", " ", "Hello  World", "  leading and trailing  ", "ａｂｃ①", "x▁y", "日本語のテキスト",
            "emoji 🙂 here", "tab\there", "naïve café", "UPPER lower", "a-b_c.d", "\u00a0nbsp",
            "Ⅻ", "ﬁ ligature", "<unk> a photo of a dog", "a photo of a dog"]


def spiece_reference(out):
    """What the sentencepiece library itself gives, for spiece.model and a byte-fallback model
    with no normaliser map (spiece-bytes.model): tests of the Rust port alone."""
    text = out / "corpus.txt"
    text.write_text("\n".join(corpus()))
    spm.SentencePieceTrainer.train(
        input=str(text), model_prefix=str(out / "spiece-bytes"), vocab_size=400,
        model_type="unigram", byte_fallback=True, normalization_rule_name="identity",
        pad_id=0, eos_id=1, unk_id=2, bos_id=-1, character_coverage=0.9995, num_threads=1,
        minloglevel=2)
    text.unlink()
    (out / "spiece-bytes.vocab").unlink()
    ref = {}
    for name in ("spiece.model", "spiece-bytes.model"):
        sp = spm.SentencePieceProcessor(model_file=str(out / name))
        ref[name] = [[t, sp.encode(t)] for t in SP_TEXTS]
    (out / "spiece_reference.json").write_text(json.dumps(ref, ensure_ascii=False, indent=0))


def bpe_tokenizer(out):
    """A Gemma-style tokenizer.json: '▁' for spaces, byte-fallback BPE, `<eos>` appended."""
    specials = ["<pad>", "<eos>", "<bos>", "<unk>"]
    tok = Tokenizer(models.BPE(unk_token="<unk>", byte_fallback=True, fuse_unk=True))
    tok.normalizer = normalizers.Replace(" ", "▁")
    tok.pre_tokenizer = pre_tokenizers.Split("▁", behavior="merged_with_next")
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=specials
                                  + [f"<0x{b:02X}>" for b in range(256)], show_progress=False)
    tok.train_from_iterator(corpus(), trainer)
    tok.post_processor = processors.TemplateProcessing(single="$A <eos>", special_tokens=[("<eos>", 1)])
    tok.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse()])
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", eos_token="<eos>",
                                   bos_token="<bos>", unk_token="<unk>", model_max_length=64)
    fast.save_pretrained(out)
    (out / "special_tokens_map.json").unlink(missing_ok=True)
    return tok.get_vocab_size()


def config(vocab, side, patch, width, layers, heads, text_width, text_heads):
    return SiglipConfig(
        text_config=dict(vocab_size=vocab, hidden_size=text_width, intermediate_size=2 * text_width,
                         num_hidden_layers=2, num_attention_heads=text_heads,
                         max_position_embeddings=64, projection_size=width, pad_token_id=0,
                         eos_token_id=1, hidden_act="gelu_pytorch_tanh", layer_norm_eps=1e-6),
        vision_config=dict(image_size=side, patch_size=patch, hidden_size=width,
                           intermediate_size=2 * width, num_hidden_layers=layers,
                           num_attention_heads=heads, hidden_act="gelu_pytorch_tanh",
                           layer_norm_eps=1e-6))


@torch.no_grad()
def decompose(vision, pixels):
    """tokens [B,T,H,E], heads [B,H,E], mlp [B,E] and pooler_output, from the weights."""
    out = vision(pixel_values=pixels)
    x = out.last_hidden_state  # post_layernorm applied
    head = vision.head
    att = head.attention
    b, t, dm = x.shape
    h = att.num_heads
    d = dm // h
    wq, wk, wv = att.in_proj_weight.chunk(3)
    bq, bk, bv = att.in_proj_bias.chunk(3)
    q = (head.probe[0] @ wq.T + bq).view(1, h, d)  # (1, H, d)
    k = (x @ wk.T + bk).view(b, t, h, d)
    v = (x @ wv.T + bv).view(b, t, h, d)
    a = torch.softmax(torch.einsum("qhd,bthd->bht", q, k) / d ** 0.5, -1)  # (B, H, T)
    wo = att.out_proj.weight.view(dm, h, d)  # out = sum_h W_o[:, h, :] z_h
    per = torch.einsum("bht,bthd,ehd->bthe", a, v, wo) + att.out_proj.bias / (t * h)
    attn = per.sum((1, 2))
    mlp = head.mlp(head.layernorm(attn))
    pooled = attn + mlp
    err = (pooled - out.pooler_output).abs().max().item()
    assert err < 1e-10, f"decomposition misses the pooler output by {err}"
    norm = pooled.norm(dim=-1, keepdim=True)
    tokens = per / norm[:, :, None, None]
    return out.pooler_output, tokens, tokens.sum(1), mlp / norm


def make(root, name, spiece, **arch):
    out = root / name
    out.mkdir(parents=True, exist_ok=True)
    vocab = spiece_tokenizer(out) if spiece else bpe_tokenizer(out)
    if spiece:
        spiece_reference(out)
    torch.manual_seed(len(name))
    cfg = config(vocab, **arch)
    model = SiglipModel(cfg).eval()
    # Random init leaves some parameters at exactly 0 or 1; spread them so every term matters.
    with torch.no_grad():
        for n, p in model.named_parameters():
            if "norm" in n or n.endswith("bias") or "probe" in n:
                p.add_(torch.randn_like(p) * 0.1)
    model.save_pretrained(out)
    side = arch["side"]
    proc = SiglipImageProcessor(size={"height": side, "width": side})
    assert "Pil" not in type(proc).__name__, "install torchvision: the reference is the fast processor"
    proc.save_pretrained(out)
    small, big = images(side, out / "images")
    model = model.double()
    tok = AutoTokenizer.from_pretrained(out)
    enc = tok(TEXTS, padding="max_length", max_length=64, truncation=True, return_tensors="pt")
    pv = proc([Image.open(out / "images" / n).convert("RGB") for n in small],
              return_tensors="pt")["pixel_values"].double()
    bpv = proc([Image.open(out / "images" / n).convert("RGB") for n in big],
               return_tensors="pt")["pixel_values"].double()
    pooled, tokens, heads, mlp = decompose(model.vision_model, pv)
    big_pooled, *_ = decompose(model.vision_model, bpv)
    text = model.get_text_features(**enc)
    text = text.pooler_output if hasattr(text, "pooler_output") else text
    tensors = {
        "pixel_values": pv, "pooler_output": pooled, "tokens": tokens, "heads": heads, "mlp": mlp,
        "big_pixel_values": bpv, "big_pooler_output": big_pooled,
        "input_ids": enc["input_ids"].to(torch.int64), "text_embeds": text,
    }
    if "attention_mask" in enc:
        tensors["attention_mask"] = enc["attention_mask"].to(torch.int64)
    save_file({k: v.float().contiguous() if v.is_floating_point() else v.contiguous()
               for k, v in tensors.items()}, out / "reference.safetensors")
    (out / "reference.json").write_text(json.dumps({
        "images": small, "big_images": big, "texts": TEXTS, "decomposition": CONVENTION,
        "tokenizer": "spiece.model (SiglipTokenizer)" if spiece else "tokenizer.json",
        "made_with": {"torch": torch.__version__, "transformers": transformers.__version__,
                      "sentencepiece": spm.__version__},
    }, indent=1))
    print(name, {k: tuple(v.shape) for k, v in tensors.items()})


if __name__ == "__main__":
    root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures")
    make(root, "tiny-siglip", True, side=32, patch=8, width=64, layers=2, heads=4,
         text_width=48, text_heads=4)
    make(root, "tiny-siglip2", False, side=42, patch=8, width=96, layers=3, heads=6,
         text_width=64, text_heads=4)
