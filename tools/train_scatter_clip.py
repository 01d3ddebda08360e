"""Trains the scatter CLIP: a small CLIP that has learned a world unlike the probe world.

The probe world (`clipscope probe`) draws one object, a grid of objects, a glyph or a texture on a
flat background at 224 px. The scatter world differs in every way a real CLIP's training images
differ from the probe images: other colours (navy, teal, maroon, olive, lime, magenta, gold,
violet), other shapes (star, heart, hexagon, crescent, arrow, bar), one to three objects placed
anywhere at random sizes (arrows and bars lying or standing), textured backgrounds (striped, dotted, checkered, wavy,
speckled, plain) in random tones, 48 px, a 6-layer vision tower with 6-px patches. Each image's
properties are recorded in `truth.jsonl` (not `probe.jsonl`: clipscope must not see them), so
tests measure each head's ground truth (η² per property on the world's own images) and check
that clipscope's labels and search find it without being told.

    python3 tools/train_scatter_clip.py --make-images /tmp/scatter -n 24000
    python3 tools/train_scatter_clip.py --images /tmp/scatter --out /tmp/stage1 \
        --steps 1000 --lr 5e-4 --colourless 1000
    python3 tools/train_scatter_clip.py --images /tmp/scatter --out tests/fixtures/scatter-clip \
        --init /tmp/stage1 --steps 1500 --lr 5e-4 --fixed 0.5

The first stage leaves colour out of the captions: with it, colour alone explains most captions
and a model this small learns nothing else (shape, count and background stay at chance; so does
training from the start with --fixed 0.5: colour 99.8%, background 17%). The second adds colour,
half its batches drawn from images that agree on one or two properties, so that the others keep
being needed. The copy of the held-out images the tests read:
    python3 tools/train_scatter_clip.py --copy-held-out /tmp/scatter \
        --to tests/fixtures/scatter-world -n 240

Reproducible: fixed seeds, pinned libraries (torch 2.5.1, transformers 4.57.6, Pillow; 2 CPU
cores). Images 0..1199 are held out and give the zero-shot accuracy in `<out>/accuracy.json`.
"""
import argparse, json, math, pathlib, random, shutil, sys

import numpy as np
import torch
from PIL import Image, ImageDraw

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from train_probe_clip import (  # noqa: E402
    clip_inputs, held_out_accuracy, seeded, single_phrase, small_clip, train_steps, training_args)

ROOT = pathlib.Path(__file__).resolve().parent.parent
HELD_OUT = 1200
SIDE = 48
COLORS = {"navy": (20, 30, 110), "teal": (0, 128, 128), "maroon": (120, 10, 40),
          "olive": (120, 120, 10), "lime": (150, 235, 40), "magenta": (225, 35, 200),
          "gold": (220, 175, 35), "violet": (165, 115, 245)}
SHAPES = ["star", "heart", "hexagon", "crescent", "arrow", "bar"]
BACKGROUNDS = ["plain", "striped", "dotted", "checkered", "wavy", "speckled"]
NUMBERS = ["zero", "one", "two", "three"]
PROPERTIES = ["color", "shape", "count", "background"]


def outline(shape, r):
    """The shape's polygon around the origin, radius `r`."""
    ring = lambda n, rr, a0=0.0: [(rr * math.cos(a0 + 2 * math.pi * i / n),
                                   rr * math.sin(a0 + 2 * math.pi * i / n)) for i in range(n)]
    if shape == "star":
        outer, inner = ring(5, r, -math.pi / 2), ring(5, r * 0.42, -math.pi / 2 + math.pi / 5)
        return [p for pair in zip(outer, inner) for p in pair]
    if shape == "hexagon":
        return ring(6, r)
    if shape == "heart":
        return [(r * 16 * math.sin(t) ** 3 / 17,
                 -r * (13 * math.cos(t) - 5 * math.cos(2 * t) - 2 * math.cos(3 * t) - math.cos(4 * t)) / 17)
                for t in np.linspace(0, 2 * math.pi, 32)]
    if shape == "crescent":
        out = [(r * math.cos(t), r * math.sin(t)) for t in np.linspace(0.5, 2 * math.pi - 0.5, 20)]
        inner = [(0.45 * r + 0.7 * r * math.cos(t), 0.7 * r * math.sin(t))
                 for t in np.linspace(2 * math.pi - 0.9, 0.9, 20)]
        return out + inner
    if shape == "arrow":
        return [(-r, -0.25 * r), (0.1 * r, -0.25 * r), (0.1 * r, -0.7 * r), (r, 0),
                (0.1 * r, 0.7 * r), (0.1 * r, 0.25 * r), (-r, 0.25 * r)]
    return [(-r, -0.3 * r), (r, -0.3 * r), (r, 0.3 * r), (-r, 0.3 * r)]  # bar


def background(kind, rng):
    """A 48-px background of `kind` in random light or dark tones (the tones are not named)."""
    base = np.array([rng.randint(0, 255) for _ in range(3)], dtype=np.float32)
    base = base * 0.35 + (150 if rng.random() < 0.6 else 20)
    other = np.clip(base + rng.choice([-1, 1]) * rng.uniform(45, 70), 0, 255)
    y, x = np.mgrid[0:SIDE, 0:SIDE]
    period = rng.choice([6, 8, 10])
    phase = rng.randint(0, period)
    if kind == "striped":
        mask = ((x + y * rng.choice([0, 1]) + phase) // (period // 2)) % 2 == 0
    elif kind == "dotted":
        mask = ((x + phase) % period - period / 2) ** 2 + ((y + phase) % period - period / 2) ** 2 < (period / 4) ** 2 + 1
    elif kind == "checkered":
        mask = (((x + phase) // (period // 2)) + ((y + phase) // (period // 2))) % 2 == 0
    elif kind == "wavy":
        mask = ((y + 2.5 * np.sin(2 * math.pi * x / (period * 2)) + phase) // (period // 2)) % 2 == 0
    elif kind == "speckled":
        cells = np.random.default_rng(rng.randint(0, 1 << 30)).random((SIDE // 2, SIDE // 2)) < 0.3
        mask = np.kron(cells, np.ones((2, 2), dtype=bool)).astype(bool)
    else:
        mask = np.zeros((SIDE, SIDE), dtype=bool)
    img = np.where(mask[..., None], other, base)
    return Image.fromarray(img.astype(np.uint8))


def draw(rng, index):
    """One scatter image and its recorded properties."""
    color, shape = rng.choice(list(COLORS)), rng.choice(SHAPES)
    count, bg = rng.randint(1, 3), rng.choice(BACKGROUNDS)
    img = background(bg, rng)
    d = ImageDraw.Draw(img)
    placed = []
    for _ in range(count):
        for _try in range(50):
            r = rng.uniform(6, 9.5) if count > 1 else rng.uniform(6, 13)
            cx, cy = rng.uniform(r, SIDE - r), rng.uniform(r, SIDE - r)
            if all((cx - px) ** 2 + (cy - py) ** 2 > (r + pr + 1) ** 2 for px, py, pr in placed):
                break
        placed.append((cx, cy, r))
        a = rng.choice([0.0, math.pi / 2]) if shape in ("arrow", "bar") else 0.0
        pts = [(cx + x * math.cos(a) - y * math.sin(a), cy + x * math.sin(a) + y * math.cos(a))
               for x, y in outline(shape, r)]
        jitter = np.clip(np.array(COLORS[color]) + [rng.randint(-12, 12) for _ in range(3)], 0, 255)
        d.polygon(pts, fill=tuple(int(v) for v in jitter))
    return img, {"file": f"scatter_{index:05}.png", "color": color, "shape": shape,
                 "count": count, "background": bg}


def plural(shape, n):
    return shape if n == 1 else shape + "s"


def caption(p, rng, colour=True):
    """A caption of scatter image `p`: a random selection of its recorded properties (colour
    left out while `colour` is false)."""
    if rng.random() < 0.3:
        return single_phrase(p, rng.choice(PROPERTIES if colour else PROPERTIES[1:]))
    use = lambda prob=0.75: rng.random() < prob
    n = p["count"]
    words = [NUMBERS[n] if use(0.85) else ("a" if n == 1 else "some")]
    if colour and use():
        words.append(p["color"])
    words.append(plural(p["shape"], n) if use(0.85) else ("objects" if n != 1 else "object"))
    s = " ".join(words)
    if use(0.6):
        s += f" on a {p['background']} background"
    prefix = rng.choice(["", "", "a picture of ", "there are " if n > 1 else "there is "])
    return " ".join((prefix + s).split())


def make_images(out, n, seed):
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    with open(out / "truth.jsonl", "w") as f:
        for i in range(n):
            img, p = draw(rng, i)
            img.save(out / p["file"])
            f.write(json.dumps(p) + "\n")


def zero_shot(held, img, embed):
    img = img / img.norm(dim=-1, keepdim=True)
    acc = {}
    for prop in PROPERTIES:
        vals = sorted({str(p[prop]) for p in held})
        proto = {v: next(p for p in held if str(p[prop]) == v) for v in vals}
        txt = embed([single_phrase(proto[v], prop) for v in vals])
        txt = txt / txt.norm(dim=-1, keepdim=True)
        pred = (img @ txt.T).argmax(-1)
        truth = torch.tensor([vals.index(str(p[prop])) for p in held])
        acc[prop] = {"accuracy": float((pred == truth).float().mean()), "classes": len(vals),
                     "chance": 1 / len(vals)}
        print(f"zero-shot {prop}: {acc[prop]['accuracy']:.3f} ({len(vals)} classes)", flush=True)
    return acc


def train(a):
    rng = seeded(a.seed)
    truth = [json.loads(l) for l in (a.images / "truth.jsonl").read_text().splitlines()]
    tok, proc = clip_inputs(SIDE)
    pixels = torch.cat([proc(images=[Image.open(a.images / p["file"]).convert("RGB") for p in truth[i:i + 500]],
                             return_tensors="pt")["pixel_values"].half() for i in range(0, len(truth), 500)])
    model, opt, sched = small_clip(a.init, 6, SIDE, 6, a.lr, a.steps)
    train_ids = list(range(HELD_OUT, len(truth)))
    # The training images grouped by the values of one or two properties.
    subsets = [(p,) for p in PROPERTIES] + [(p, q) for i, p in enumerate(PROPERTIES) for q in PROPERTIES[i + 1:]]
    groups = {s: {} for s in subsets}
    for i in train_ids:
        for s in subsets:
            groups[s].setdefault(tuple(truth[i][p] for p in s), []).append(i)

    def batch_of(step):
        if rng.random() < a.fixed:
            # Images that agree on one or two properties: only the others tell the captions
            # apart, so none of them can be left unlearned.
            s = rng.choice(subsets)
            pool = groups[s][tuple(truth[rng.choice(train_ids)][p] for p in s)]
            idx = rng.sample(pool, min(a.batch, len(pool)))
        else:
            idx = rng.sample(train_ids, a.batch)
        return idx, [caption(truth[i], rng, step >= a.colourless) for i in idx]

    train_steps(model, opt, sched, tok, pixels, a.steps, batch_of)
    acc = held_out_accuracy(model, tok, truth[:HELD_OUT], pixels[:HELD_OUT], zero_shot)
    a.out.mkdir(parents=True, exist_ok=True)
    model.half().save_pretrained(a.out, safe_serialization=True)
    proc.save_pretrained(a.out)
    for f in ["tokenizer.json", "tokenizer_config.json"]:
        shutil.copy(ROOT / "tests/fixtures/tiny-clip-hf" / f, a.out / f)
    (a.out / "accuracy.json").write_text(json.dumps(
        {"held_out_images": HELD_OUT, "steps": a.steps, "batch": a.batch, "seed": a.seed, "lr": a.lr,
         "init": str(a.init) if a.init else None, "fixed": a.fixed, "colourless": a.colourless,
         "torch": torch.__version__, "zero_shot": acc}, indent=1) + "\n")


def copy_held_out(src, to, n):
    """The first `n` held-out images and their truth, for the tests."""
    to.mkdir(parents=True, exist_ok=True)
    lines = (src / "truth.jsonl").read_text().splitlines()[:n]
    for l in lines:
        shutil.copy(src / json.loads(l)["file"], to)
    (to / "truth.jsonl").write_text("\n".join(lines) + "\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--make-images", type=pathlib.Path)
    ap.add_argument("-n", type=int, default=24000)
    ap.add_argument("--images", type=pathlib.Path)
    ap.add_argument("--out", type=pathlib.Path)
    ap.add_argument("--copy-held-out", type=pathlib.Path)
    ap.add_argument("--to", type=pathlib.Path)
    training_args(ap, 1500, 20261207)
    ap.add_argument("--init", type=pathlib.Path, help="start from this checkpoint")
    ap.add_argument("--colourless", type=int, default=0,
                    help="steps whose captions leave colour out (first shape, count and background)")
    ap.add_argument("--fixed", type=float, default=0.0,
                    help="share of batches drawn from images that agree on one or two properties")
    a = ap.parse_args()
    if a.make_images:
        make_images(a.make_images, a.n, a.seed)
    elif a.copy_held_out:
        copy_held_out(a.copy_held_out, a.to, a.n)
    else:
        train(a)


if __name__ == "__main__":
    main()
