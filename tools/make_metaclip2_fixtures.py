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
Unigram model trained by the `tokenizers` library on the texts (multilingual ones among them),
wrapped as transformers' XLMRobertaTokenizerFast, which open_clip's HFTokenizer loads from the
folder. The vision side and its decomposition are tools/make_openclip_fixtures.py's.
"""
import json, pathlib, sys

import numpy as np
import open_clip
import torch
from PIL import Image
from safetensors.torch import save_file
from tokenizers import SentencePieceUnigramTokenizer
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
    tok = SentencePieceUnigramTokenizer()
    tok.train_from_iterator(texts * 4, vocab_size=400, special_tokens=SPECIAL, unk_token="<unk>",
                            show_progress=False)
    assert [tok.token_to_id(t) for t in SPECIAL] == [0, 1, 2, 3]
    tok.post_processor = TemplateProcessing(single="<s> $A </s>",
                                            special_tokens=[("<s>", 0), ("</s>", 2)])
    XLMRobertaTokenizerFast(tokenizer_object=tok._tokenizer).save_pretrained(out)
    (out / "special_tokens_map.json").unlink(missing_ok=True)
    return tok.get_vocab_size()


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
    transform = open_clip.image_transform(42, is_train=False, mean=base.MEAN, std=base.STD)
    names, big = base.images(out / "images", rng)
    load = lambda fs: torch.stack([transform(Image.open(out / "images" / f).convert("RGB"))
                                   for f in fs]).double()
    px, big_px = load(names), load(big)
    with torch.no_grad():
        e, heads, tokens, mlps = base.decompose(model, px)
        ref = model.encode_image(px)
        assert torch.allclose(e, ref, atol=1e-10), (e - ref).abs().max()
        unit = ref / ref.norm(dim=-1, keepdim=True)
        total = heads.sum((1, 2)) + mlps.sum(1)
        assert torch.allclose(total, unit, atol=1e-10), (total - unit).abs().max()
        ids = tokenizer(texts)
        assert (ids == 1).any() and (ids[:, 0] == 0).all() and ids[-1, -1] == 2
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
    config_json = {"model_cfg": cfg, "preprocess_cfg": {"mean": base.MEAN, "std": base.STD}}
    (out / "open_clip_config.json").write_text(json.dumps(config_json, indent=1))
    convention = json.loads((pathlib.Path(root) / "tiny-openclip" / "reference.json").read_text())
    (out / "reference.json").write_text(json.dumps({
        "images": names, "big_images": big, "texts": texts,
        "decomposition": convention["decomposition"],
        "big_images_through": "open_clip.image_transform (Pillow resize)",
        "made_with": {"torch": torch.__version__, "open_clip": open_clip.__version__,
                      "transformers": __import__("transformers").__version__,
                      "tokenizers": __import__("tokenizers").__version__},
    }, indent=1, ensure_ascii=False))
    print(f"wrote {out}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures")
