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
import json, pathlib, sys

import numpy as np
import open_clip
import torch
from transformers import BertTokenizerFast

from make_openclip_fixtures import decompose, write_reference

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


PATCH_MEAN = (lambda x: x[:, 1:].mean(1), lambda a: a[:, :, 1:, :].mean(2))
"""CLIPA's readout: the patches' mean row (class token excluded), and the patch queries' mean
attention row."""


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
    made_with = {"torch": torch.__version__, "open_clip": open_clip.__version__,
                 "transformers": __import__("transformers").__version__}
    assert isinstance(model.visual.ln_pre, torch.nn.Identity)
    decomposition = lambda m, px: decompose(m, px, cfg["vision_cfg"]["head_width"], PATCH_MEAN)
    write_reference(out, model, decomposition, tokenizer, texts, cfg,
                    __doc__.split("\n\n")[-1].strip(), rng, made_with=made_with)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures")
