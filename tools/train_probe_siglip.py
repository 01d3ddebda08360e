"""Trains a probe SigLIP: a small transformers `SiglipModel` that has learned the probe world, so
that the meaning of its attention-pooling heads can be checked against known image properties.

The captions, the held-out split and the zero-shot check are those of train_probe_clip.py; the
model is a SigLIP (no class token, an attention-pooling head, the sigmoid loss with SigLIP's
initial temperature log 10 and bias -10), and its tokenizer a SentencePiece Unigram model trained
on captions, read by `SiglipTokenizer`.

    cargo run --release -- probe /tmp/probe -n 24000
    python3 tools/train_probe_siglip.py --images /tmp/probe --out tests/fixtures/probe-siglip

Writes config.json, model.safetensors (f16), preprocessor_config.json, spiece.model,
tokenizer_config.json and accuracy.json. Reproducible: fixed seeds, 2 threads, pinned libraries
(torch 2.15, torchvision 0.29.2, transformers 5.24, sentencepiece 0.2.3).
"""
import argparse, json, math, pathlib, random, sys, time

import sentencepiece as spm
import torch
from transformers import SiglipConfig, SiglipImageProcessor, SiglipModel, SiglipTokenizer

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from make_siglip_fixtures import save_spiece_tokenizer  # noqa: E402
from train_probe_clip import (  # noqa: E402
    HELD_OUT, PROPERTIES, SIDE, caption, known, optimiser, preprocess, seeded, single_phrase, training_args, zero_shot)


def tokenizer(probes, out, rng):
    """A Unigram SentencePiece model over captions of the training images."""
    text = out / "captions.txt"
    lines = [caption(p, rng) for p in probes[HELD_OUT:] for _ in range(2)]
    lines += [single_phrase(p, q) for p in probes[:HELD_OUT] for q in PROPERTIES if known(p, q)]
    text.write_text("\n".join(l.lower() for l in lines))
    spm.SentencePieceTrainer.train(
        input=str(text), model_prefix=str(out / "spiece"), vocab_size=128, model_type="unigram",
        pad_id=0, eos_id=1, unk_id=2, bos_id=-1, character_coverage=1.0, num_threads=1,
        minloglevel=2)
    text.unlink()
    save_spiece_tokenizer(out)
    return SiglipTokenizer.from_pretrained(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", required=True, type=pathlib.Path)
    ap.add_argument("--out", required=True, type=pathlib.Path)
    training_args(ap, 900, 20261129)
    a = ap.parse_args()
    rng = seeded(a.seed)
    a.out.mkdir(parents=True, exist_ok=True)

    probes = [json.loads(l) for l in (a.images / "probe.jsonl").read_text().splitlines()]
    tok = tokenizer(probes, a.out, random.Random(a.seed + 1))
    proc = SiglipImageProcessor(size={"height": SIDE, "width": SIDE})
    pixels = preprocess(a.images, probes, proc)

    config = SiglipConfig(
        vision_config=dict(hidden_size=128, intermediate_size=512, num_attention_heads=4,
                           num_hidden_layers=4, image_size=SIDE, patch_size=8),
        text_config=dict(hidden_size=64, intermediate_size=256, num_attention_heads=2,
                         num_hidden_layers=2, max_position_embeddings=64, vocab_size=len(tok),
                         projection_size=128, pad_token_id=1, eos_token_id=1),
    )
    model = SiglipModel(config)
    with torch.no_grad():
        # big_vision's SigLIP initialisation: t' = log 10, b = -10 (transformers starts at 0, 0).
        model.logit_scale.fill_(math.log(10))
        model.logit_bias.fill_(-10)
    model.train()
    opt, sched = optimiser(model, a.lr, a.steps)
    train = list(range(HELD_OUT, len(probes)))
    t0 = time.time()
    for step in range(a.steps):
        idx = rng.sample(train, a.batch)
        caps = [caption(probes[i], rng) for i in idx]
        t = tok(caps, padding="max_length", max_length=64, truncation=True, return_tensors="pt")
        out = model(input_ids=t["input_ids"], pixel_values=pixels[idx].float(), return_loss=True)
        opt.zero_grad()
        out.loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        if step % 50 == 0 or step == a.steps - 1:
            print(f"step {step} loss {out.loss.item():.3f} {time.time() - t0:.0f} s", flush=True)

    model.eval()
    with torch.no_grad():
        img = model.get_image_features(pixel_values=pixels[:HELD_OUT].float())

        def embed(texts):
            t = tok(texts, padding="max_length", max_length=64, return_tensors="pt")
            txt = model.get_text_features(input_ids=t["input_ids"])
            return getattr(txt, "pooler_output", txt)

        acc = zero_shot(probes[:HELD_OUT], getattr(img, "pooler_output", img), embed)

    model.half().save_pretrained(a.out, safe_serialization=True)
    proc.save_pretrained(a.out)
    (a.out / "accuracy.json").write_text(json.dumps(
        {"held_out_images": HELD_OUT, "steps": a.steps, "batch": a.batch, "seed": a.seed, "lr": a.lr,
         "torch": torch.__version__, "zero_shot": acc}, indent=1) + "\n")


if __name__ == "__main__":
    main()
