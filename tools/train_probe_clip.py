"""Trains clipscope's built-in probe CLIP: a small CLIP that has learned the probe world.

The probe world (`clipscope probe`, src/probe/mod.rs) draws images whose properties are recorded:
colour, shape, count, texture, letter or digit, position, size, background. This script trains a
Hugging Face `CLIPModel` from scratch on captions composed from those recorded properties, so that
its heads carry known properties and clipscope's labels can be checked against the truth.

Reproducible: fixed seeds, one thread order, pinned libraries (torch 2.11, transformers 5.x; the
numbers in the README were made with torch 2.11.0 and transformers 5.24.0 on 2 CPU cores).

    cargo run --release -- probe /tmp/probe -n 24000
    python3 tools/train_probe_clip.py --images /tmp/probe --out /tmp/stage1
    python3 tools/train_probe_clip.py --images /tmp/probe --out models/probe-clip \
        --init /tmp/stage1 --steps 800 --lr 5e-4 --hard 0.6

The second stage draws most batches from images of two colours only, so that colour alone no
longer tells the captions apart and shape, count and texture must.

Images 0..1199 are held out (they are the ones `clipscope demo` indexes) and give the per-property
zero-shot accuracy written to `<out>/accuracy.json`; the model trains on the rest.

Writes `config.json`, `model.safetensors` (f16), `preprocessor_config.json`, `accuracy.json`.
The tokenizer is CLIP's own (tests/fixtures/tiny-clip-hf/tokenizer.json), which clipscope ships.
"""
import argparse, json, math, pathlib, random, time

import numpy as np
import torch
from PIL import Image
from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPTokenizerFast

ROOT = pathlib.Path(__file__).resolve().parent.parent
HELD_OUT = 1200
SIDE = 64
NUMBERS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
TEXTURE_WORDS = {"solid": "plain", "stripes": "striped", "checkerboard": "checkered",
                 "dots": "dotted", "noise": "speckled", "grid": "grid"}
PROPERTIES = ["color", "shape", "count", "texture", "glyph", "position", "size", "background"]


def plural(shape, n):
    return shape + ("es" if shape.endswith("s") else "s") if n != 1 else shape


def single_phrase(p, prop):
    """A caption that names one property only, in the words zero-shot prompts use."""
    if prop == "color":
        return f"something {p['color']}"
    if prop == "shape":
        return f"a {p['shape']}"
    if prop == "count":
        return f"{NUMBERS[p['count']]} objects" if p["count"] != 1 else "one object"
    if prop == "texture":
        return f"a {TEXTURE_WORDS[p['texture']]} pattern"
    if prop == "glyph":
        what = "digit" if p["glyph"].isdigit() else "letter"
        return f"the {what} {p['glyph']}"
    if prop == "position":
        return f"something at the {p['position']}"
    if prop == "size":
        return f"something {p['size']}"
    return f"a {p['background']} background"


def known(p, prop):
    return {"count": p["kind"] == "objects", "shape": p.get("shape") is not None,
            "glyph": p.get("glyph") is not None, "position": p.get("position") is not None,
            "size": p.get("size") is not None}.get(prop, True)


def caption(p, rng):
    """A caption of probe image `p`: a random selection of its recorded properties."""
    if rng.random() < 0.3:
        props = [q for q in PROPERTIES if known(p, q)]
        return single_phrase(p, rng.choice(props))
    use = lambda prob=0.75: rng.random() < prob
    kind, col = p["kind"], p["color"]
    if kind in ("objects", "single"):
        n, shape = p["count"], p["shape"]
        words = [NUMBERS[n] if use(0.85) or n == 1 and kind == "objects" else ("a" if n == 1 else "some")]
        if kind == "single" and use(0.6):
            words.append(p["size"])
        if use():
            words.append(col)
        if p["texture"] != "solid" and use(0.5):
            words.append(TEXTURE_WORDS[p["texture"]])
        words.append(plural(shape, n) if use(0.85) else ("objects" if n != 1 else "object"))
        s = " ".join(words)
        if kind == "single" and use(0.6):
            s += f" at the {p['position']}"
    elif kind == "glyph":
        what = "digit" if p["glyph"].isdigit() else "letter"
        s = f"the {what} {p['glyph']}" + (f" in {col}" if use() else "")
    else:
        s = f"a {col if use(0.85) else ''} {TEXTURE_WORDS[p['texture']]} pattern"
    if use(0.35):
        s += f" on a {p['background']} background"
    prefix = rng.choice(["", "", "a photo of ", "an image of "])
    return " ".join((prefix + s).split())


def values(probes, prop):
    vals = sorted({str(p[prop]) for p in probes if known(p, prop)})
    return vals


def features(out):
    """The projected embeddings (transformers 5 returns them as the output's pooler_output)."""
    return out if isinstance(out, torch.Tensor) else out.pooler_output


def preprocess(images, probes, proc):
    """The probe images through the image processor `proc`, as f16 (N, 3, S, S)."""
    t0 = time.time()
    pixels = []
    for i in range(0, len(probes), 500):
        ims = [Image.open(images / p["file"]).convert("RGB") for p in probes[i:i + 500]]
        pixels.append(proc(images=ims, return_tensors="pt")["pixel_values"].half())
    print(f"{len(probes)} images preprocessed in {time.time() - t0:.0f} s", flush=True)
    return torch.cat(pixels)


def optimiser(model, lr, steps):
    """AdamW (weight decay on matrices only) with a 5% linear warm-up and a cosine decay."""
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2 and "embedding" not in n]
    rest = [p for n, p in model.named_parameters() if not (p.ndim >= 2 and "embedding" not in n)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.05}, {"params": rest, "weight_decay": 0.0}],
                            lr=lr, betas=(0.9, 0.98), eps=1e-6)
    warm = max(1, steps // 20)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warm) * 0.5 * (1 + math.cos(math.pi * min(1.0, s / steps))))
    return opt, sched


def zero_shot(held, img, embed):
    """Per-property zero-shot accuracy of image embeddings `img` of the held-out probes `held`,
    against `embed(texts)`, the text embeddings of one phrase per value."""
    img = img / img.norm(dim=-1, keepdim=True)
    acc = {}
    for prop in PROPERTIES:
        vals = values(held, prop)
        rows = [i for i, p in enumerate(held) if known(p, prop)]
        proto = {v: next(p for p in held if known(p, prop) and str(p[prop]) == v) for v in vals}
        txt = embed([single_phrase(proto[v], prop) for v in vals])
        txt = txt / txt.norm(dim=-1, keepdim=True)
        pred = (img[rows] @ txt.T).argmax(-1)
        truth = torch.tensor([vals.index(str(held[i][prop])) for i in rows])
        acc[prop] = {"accuracy": float((pred == truth).float().mean()), "classes": len(vals),
                     "images": len(rows), "chance": 1 / len(vals)}
        print(f"zero-shot {prop}: {acc[prop]['accuracy']:.3f} ({len(vals)} classes, {len(rows)} images)")
    return acc


def small_clip(init, layers, side, patch, lr, steps):
    """A small CLIP (vision width 128, 4 heads, `layers` layers; text 2 layers, width 64; embed
    64), from `init` when given, in training mode with its optimiser."""
    config = CLIPConfig(
        projection_dim=64,
        logit_scale_init_value=math.log(1 / 0.07),
        vision_config=dict(hidden_size=128, intermediate_size=512, num_attention_heads=4,
                           num_hidden_layers=layers, image_size=side, patch_size=patch,
                           hidden_act="quick_gelu"),
        text_config=dict(hidden_size=64, intermediate_size=256, num_attention_heads=2,
                         num_hidden_layers=2, max_position_embeddings=77, vocab_size=49408,
                         hidden_act="quick_gelu", bos_token_id=49406, eos_token_id=49407, pad_token_id=49407),
    )
    model = CLIPModel.from_pretrained(init).float() if init else CLIPModel(config)
    model.train()
    return (model, *optimiser(model, lr, steps))


def train_steps(model, opt, sched, tok, pixels, steps, batch_of):
    """`steps` CLIP steps: `batch_of(step)` gives the images and captions of each batch."""
    t0 = time.time()
    for step in range(steps):
        idx, caps = batch_of(step)
        t = tok(caps, padding="max_length", max_length=77, truncation=True, return_tensors="pt")
        out = model(input_ids=t["input_ids"], attention_mask=t["attention_mask"],
                    pixel_values=pixels[idx].float(), return_loss=True)
        opt.zero_grad()
        out.loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        with torch.no_grad():
            model.logit_scale.clamp_(0, math.log(100))
        if step % 50 == 0 or step == steps - 1:
            print(f"step {step} loss {out.loss.item():.3f} {time.time() - t0:.0f} s", flush=True)


def held_out_accuracy(model, tok, held, pixels, zero_shot):
    """`zero_shot(held, image features, embed)` of the trained model on the held-out images."""
    model.eval()
    with torch.no_grad():
        img = features(model.get_image_features(pixel_values=pixels.float()))

        def embed(texts):
            t = tok(texts, padding="max_length", max_length=77, return_tensors="pt")
            return features(model.get_text_features(input_ids=t["input_ids"], attention_mask=t["attention_mask"]))

        return zero_shot(held, img, embed)


def training_args(ap, steps, seed):
    """The arguments every training script takes: how long, in what batches, how fast, from
    which seed."""
    ap.add_argument("--steps", type=int, default=steps)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--seed", type=int, default=seed)


def seeded(seed):
    """Seeds torch, keeps it to 2 threads (the reproducible setting), and returns the Random
    that draws the batches."""
    torch.manual_seed(seed)
    torch.set_num_threads(2)
    return random.Random(seed)


def clip_inputs(side):
    """The tiny CLIP's BPE tokenizer and an image processor at `side` px (bicubic, centre crop)."""
    tok = CLIPTokenizerFast(tokenizer_file=str(ROOT / "tests/fixtures/tiny-clip-hf/tokenizer.json"))
    proc = CLIPImageProcessor(size={"shortest_edge": side}, crop_size={"height": side, "width": side},
                              resample=3)
    return tok, proc


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", required=True, type=pathlib.Path)
    ap.add_argument("--out", required=True, type=pathlib.Path)
    training_args(ap, 1200, 20261129)
    ap.add_argument("--init", type=pathlib.Path, help="start from this checkpoint")
    ap.add_argument("--hard", type=float, default=0.0,
                    help="share of batches drawn from images of two colours only")
    a = ap.parse_args()
    rng = seeded(a.seed)

    probes = [json.loads(l) for l in (a.images / "probe.jsonl").read_text().splitlines()]
    tok, proc = clip_inputs(SIDE)
    pixels = preprocess(a.images, probes, proc)

    model, opt, sched = small_clip(a.init, 4, SIDE, 8, a.lr, a.steps)
    train = list(range(HELD_OUT, len(probes)))
    by_colour = {}
    for i in train:
        by_colour.setdefault(probes[i]["color"], []).append(i)
    colours = sorted(by_colour)
    def batch_of(step):
        if rng.random() < a.hard:
            pair = rng.sample(colours, 2)
            idx = rng.sample(by_colour[pair[0]], a.batch // 2) + rng.sample(by_colour[pair[1]], a.batch // 2)
        else:
            idx = rng.sample(train, a.batch)
        return idx, [caption(probes[i], rng) for i in idx]

    train_steps(model, opt, sched, tok, pixels, a.steps, batch_of)
    acc = held_out_accuracy(model, tok, probes[:HELD_OUT], pixels[:HELD_OUT], zero_shot)

    a.out.mkdir(parents=True, exist_ok=True)
    model.half().save_pretrained(a.out, safe_serialization=True)
    proc.save_pretrained(a.out)
    (a.out / "accuracy.json").write_text(json.dumps(
        {"held_out_images": HELD_OUT, "steps": a.steps, "batch": a.batch, "seed": a.seed,
         "init": str(a.init) if a.init else None, "hard": a.hard, "lr": a.lr,
         "torch": torch.__version__, "zero_shot": acc}, indent=1) + "\n")


if __name__ == "__main__":
    main()
