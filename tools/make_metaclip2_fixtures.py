"""Writes clipscope's fixture for MetaCLIP 2 (open_clip ViT-H-14-worldwide, ViT-bigG-14-worldwide):
a tiny random model with the family's distinguishing text side and what open_clip computes for it.

    pip install torch==2.5.1 open_clip_torch==3.3.0 transformers==4.57.6 tokenizers pillow numpy safetensors
    python3 tools/make_metaclip2_fixtures.py tests/fixtures

tests/fixtures/tiny-openclip-metaclip2   the paper's vision layout (QuickGELU, patch 14 at 42 px,
                                         width 64 of 4 heads x 3 layers) and MetaCLIP 2's text
                                         side: an XLM-R-style SentencePiece Unigram tokenizer
                                         (`hf_tokenizer_name` facebook/xlm-v-base: <s> 0, <pad> 1,
                                         </s> 2, <unk> 3, texts as <s> … </s> padded with <pad>)
                                         and the embedding read at the first end-of-sequence id
                                         (`pool_type` eos, `eos_id` 2), causal, context 77.

XLM-V's own 901,629-piece vocabulary cannot be downloaded here, so the fixture's tokenizer is a
SentencePiece Unigram model over a vocabulary made from the texts (multilingual ones among them),
wrapped as transformers' XLMRobertaTokenizerFast, which open_clip's HFTokenizer loads from the
folder. The vision side and its decomposition are tools/make_openclip_fixtures.py's.
"""
import json, pathlib, sys

import numpy as np
import open_clip
import torch
from tokenizers import SentencePieceUnigramTokenizer
from tokenizers.models import Unigram
from tokenizers.processors import TemplateProcessing
from transformers import XLMRobertaTokenizerFast

import make_openclip_fixtures as base

NAME = "tiny-openclip-metaclip2"
EXTRA_TEXTS = [
    "une photo d'un chien",
    "ein rotes Auto auf der Straße",
    "一只猫坐在桌子上",
    "фотография заката над океаном",
    "a " + "very " * 80 + "long caption that the context of 77 truncates",
]
SPECIAL = ["<s>", "<pad>", "</s>", "<unk>"]


def make_tokenizer(out, texts):
    """A SentencePiece Unigram vocabulary made deterministically from the texts (the `tokenizers`
    trainer's choice of pieces varies from run to run): every character, and "▁" + each word
    except every third one, which is then spelt by smaller pieces; longer pieces score higher."""
    words = sorted({w for t in texts for w in t.split()})
    chars = sorted({c for t in texts for c in t if not c.isspace()})
    pieces = ["▁"] + chars + ["▁" + w for i, w in enumerate(words) if i % 3]
    vocab = [(t, 0.0) for t in SPECIAL] + [(p, -10.0 + len(p)) for p in dict.fromkeys(pieces)]
    tok = SentencePieceUnigramTokenizer(vocab=vocab)
    assert [tok.token_to_id(t) for t in SPECIAL] == [0, 1, 2, 3]
    tok._tokenizer.model = Unigram(vocab, unk_id=3, byte_fallback=False)
    tok.post_processor = TemplateProcessing(single="<s> $A </s>",
                                            special_tokens=[("<s>", 0), ("</s>", 2)])
    XLMRobertaTokenizerFast(tokenizer_object=tok._tokenizer).save_pretrained(out)
    (out / "special_tokens_map.json").unlink(missing_ok=True)
    return len(vocab)


def config(vocab_size):
    return {
        "embed_dim": 32,
        "quick_gelu": True,
        "vision_cfg": {"image_size": 42, "layers": 3, "width": 64, "head_width": 16,
                       "patch_size": 14},
        "text_cfg": {"hf_tokenizer_name": "facebook/xlm-v-base", "pool_type": "eos", "eos_id": 2,
                     "context_length": 77, "vocab_size": vocab_size, "width": 32, "heads": 4,
                     "layers": 2},
    }


def main(root):
    out = pathlib.Path(root) / NAME
    (out / "images").mkdir(parents=True, exist_ok=True)
    texts = json.loads((pathlib.Path(root) / "tiny-openclip" / "reference.json").read_text())["texts"]
    texts = texts + EXTRA_TEXTS
    cfg = config(make_tokenizer(out, texts))
    assert cfg["vision_cfg"]["head_width"] == base.CFG["vision_cfg"]["head_width"]
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    open_clip.factory._MODEL_CONFIGS[NAME] = cfg
    model = open_clip.create_model(NAME, pretrained=None).eval().double()
    assert model.text_pool_type == "eos" and model.text_eos_id == 2
    tokenizer = open_clip.tokenizer.HFTokenizer(str(out), context_length=77)
    convention = json.loads((pathlib.Path(root) / "tiny-openclip" / "reference.json").read_text())
    made_with = {"torch": torch.__version__, "open_clip": open_clip.__version__,
                 "transformers": __import__("transformers").__version__,
                 "tokenizers": __import__("tokenizers").__version__}
    base.write_reference(out, model, base.decompose, tokenizer, texts, cfg,
                         convention["decomposition"], rng, made_with=made_with, ascii=False)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures")
