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

tests/fixtures/tiny-hf-metaclip2         the same weights in transformers' format (`MetaClip2Model`,
                                         `model_type` metaclip_2: CLIP's names, the text read at
                                         `text_config.eos_token_id`), converted as transformers'
                                         convert_metaclip_2_to_hf.py converts (q/k/v split, the
                                         projections transposed), with the tokenizer saved beside
                                         it and the processor the script makes
                                         (`CLIPImageProcessor`, `size` {height, width}: both sides
                                         resized, so the big images are squashed). Its reference
                                         is what transformers computes: the processor's pixels,
                                         the tokenizer called with padding="max_length",
                                         truncation, and get_image_features / get_text_features;
                                         the decomposition is the open_clip model's (the same
                                         weights), checked against transformers' embedding.
"""
import json, pathlib, sys

import numpy as np
import open_clip
import torch
from tokenizers import SentencePieceUnigramTokenizer
from tokenizers.models import Unigram
from tokenizers.processors import TemplateProcessing
from transformers import (CLIPImageProcessor, MetaClip2Config, MetaClip2Model,
                          XLMRobertaTokenizerFast)
from PIL import Image
from safetensors.torch import save_file

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
    transformers_fixture(pathlib.Path(root) / HF_NAME, model, out, texts, cfg, convention, rng,
                         made_with)
    hub_config(pathlib.Path(root) / "configs")


def hub_config(out):
    """config.json of facebook/metaclip-2-worldwide-huge-quickgelu as transformers writes it from
    convert_metaclip_2_to_hf.py's settings for ViT-H-14-quickgelu-worldwide (XLM-V's </s> is 2)."""
    config = MetaClip2Config(
        vision_config={"image_size": 224, "patch_size": 14, "hidden_size": 1280,
                       "intermediate_size": 5120, "num_attention_heads": 16,
                       "num_hidden_layers": 32, "hidden_act": "quick_gelu",
                       "projection_dim": 1024},
        text_config={"hidden_size": 1024, "intermediate_size": 4096, "num_attention_heads": 16,
                     "num_hidden_layers": 24, "max_position_embeddings": 77,
                     "vocab_size": 901629, "eos_token_id": 2, "hidden_act": "quick_gelu",
                     "projection_dim": 1024},
        projection_dim=1024)
    config.architectures = ["MetaClip2Model"]
    path = out / "facebook-metaclip-2-worldwide-huge-quickgelu.json"
    path.write_text(config.to_json_string(use_diff=False))
    print(f"wrote {path}")


HF_NAME = "tiny-hf-metaclip2"


def hf_state_dict(state):
    """open_clip's names as transformers' MetaClip2Model has them (convert_metaclip_2_to_hf.py's
    convert_state_dict: in_proj split into q, k, v; proj and text_projection transposed)."""
    plain = {"visual.class_embedding": "vision_model.embeddings.class_embedding",
             "visual.conv1.weight": "vision_model.embeddings.patch_embedding.weight",
             "visual.positional_embedding": "vision_model.embeddings.position_embedding.weight",
             "visual.ln_pre.weight": "vision_model.pre_layrnorm.weight",
             "visual.ln_pre.bias": "vision_model.pre_layrnorm.bias",
             "visual.ln_post.weight": "vision_model.post_layernorm.weight",
             "visual.ln_post.bias": "vision_model.post_layernorm.bias",
             "token_embedding.weight": "text_model.embeddings.token_embedding.weight",
             "positional_embedding": "text_model.embeddings.position_embedding.weight",
             "ln_final.weight": "text_model.final_layer_norm.weight",
             "ln_final.bias": "text_model.final_layer_norm.bias",
             "logit_scale": "logit_scale"}
    block = {"ln_1": "layer_norm1", "ln_2": "layer_norm2", "mlp.c_fc": "mlp.fc1",
             "mlp.c_proj": "mlp.fc2", "attn.out_proj": "self_attn.out_proj"}
    hf = {}
    for k, v in state.items():
        if k in plain:
            hf[plain[k]] = v
        elif k == "visual.proj":
            hf["visual_projection.weight"] = v.T
        elif k == "text_projection":
            hf["text_projection.weight"] = v.T
        else:
            tower = "vision_model" if k.startswith("visual.") else "text_model"
            rest = k.removeprefix("visual.").removeprefix("transformer.resblocks.")
            i, name = rest.split(".", 1)
            prefix = f"{tower}.encoder.layers.{i}."
            if name.startswith("attn.in_proj_"):
                kind = name.removeprefix("attn.in_proj_")
                for part, chunk in zip("qkv", v.chunk(3)):
                    hf[prefix + f"self_attn.{part}_proj.{kind}"] = chunk
            else:
                mod, kind = name.rsplit(".", 1)
                hf[prefix + block[mod] + "." + kind] = v
    return hf


def transformers_fixture(out, model, tokenizer_dir, texts, cfg, convention, rng, made_with):
    """The open_clip `model` as transformers' MetaClip2Model, and what transformers computes."""
    (out / "images").mkdir(parents=True, exist_ok=True)
    v, t = cfg["vision_cfg"], cfg["text_cfg"]
    config = MetaClip2Config(
        vision_config={"image_size": v["image_size"], "patch_size": v["patch_size"],
                       "hidden_size": v["width"], "intermediate_size": 4 * v["width"],
                       "num_attention_heads": v["width"] // v["head_width"],
                       "num_hidden_layers": v["layers"], "hidden_act": "quick_gelu"},
        text_config={"hidden_size": t["width"], "intermediate_size": 4 * t["width"],
                     "num_attention_heads": t["heads"], "num_hidden_layers": t["layers"],
                     "max_position_embeddings": t["context_length"],
                     "vocab_size": t["vocab_size"], "eos_token_id": t["eos_id"],
                     "hidden_act": "quick_gelu"},
        projection_dim=cfg["embed_dim"])
    hf = MetaClip2Model(config).eval().double()
    hf.load_state_dict(hf_state_dict(model.state_dict()), strict=True)
    side = v["image_size"]
    processor = CLIPImageProcessor(size={"height": side, "width": side},
                                   crop_size={"height": side, "width": side})
    tokenizer = XLMRobertaTokenizerFast.from_pretrained(tokenizer_dir)
    names, big = base.images(out / "images", rng, side)
    load = lambda fs: processor([Image.open(out / "images" / f).convert("RGB") for f in fs],
                                return_tensors="pt").pixel_values.double()
    px, big_px = load(names), load(big)
    enc = tokenizer(texts, padding="max_length", max_length=t["context_length"],
                    truncation=True, return_tensors="pt")
    with torch.no_grad():
        ref = hf.get_image_features(pixel_values=px)
        assert torch.allclose(ref, model.encode_image(px), atol=1e-10)
        e, heads, tokens, mlps = base.decompose(model, px)
        unit = ref / ref.norm(dim=-1, keepdim=True)
        total = heads.sum((1, 2)) + mlps.sum(1)
        assert torch.allclose(total, unit, atol=1e-10), (total - unit).abs().max()
        # transformers builds its causal mask in the default dtype: float64 for a float64 model.
        torch.set_default_dtype(torch.float64)
        text = hf.get_text_features(**enc)
        # The causal mask already hides the padding from the end token: the mask changes nothing.
        assert torch.allclose(text, hf.get_text_features(input_ids=enc.input_ids), atol=1e-12)
        assert torch.allclose(text, model.encode_text(enc.input_ids), atol=1e-10)
        torch.set_default_dtype(torch.float32)
        big_e = hf.get_image_features(pixel_values=big_px)
    f32 = lambda x: x.float().contiguous()
    save_file({
        "pixel_values": f32(px), "image_embeds": f32(ref), "heads": f32(heads),
        "tokens": f32(tokens), "mlps": f32(mlps),
        "input_ids": enc.input_ids.to(torch.int64).contiguous(), "text_embeds": f32(text),
        "big_pixel_values": f32(big_px), "big_image_embeds": f32(big_e),
    }, out / "reference.safetensors")
    hf.float().save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    (out / "special_tokens_map.json").unlink(missing_ok=True)
    processor.save_pretrained(out)
    (out / "reference.json").write_text(json.dumps({
        "images": names, "big_images": big, "texts": texts,
        "decomposition": convention["decomposition"],
        "big_images_through": "transformers CLIPImageProcessor (Pillow resize)",
        "made_with": made_with,
    }, indent=1, ensure_ascii=False))
    print(f"wrote {out}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures")
