"""clip_text_span's `compute_prs.py` with `attn_method='head_no_spatial'`, timed end to end over
an image folder: the reference pipeline for `clipscope index --layers all` (benches/index_vs_prs.sh).

Ported from clip_text_span (github.com/yossigandelsman/clip_text_span): the attention is
utils/transformer.py `MultiheadAttention.forward_per_head_no_spatial` (q, k, v per head by
einsum, every token's per-head output through its slice of out_proj, (B, N, H, D)), the logging
is prs_hook.py `PRSLogger(spatial=False)` (the CLS row of each layer's per-head outputs plus the
bias share, each MLP's and ln_pre's CLS row, ln_post's mean and sqrt-variance, then `finalize`:
the post-LN projection of every term divided by the embedding's norm), and the loop is
compute_prs.py's (torchvision `ImageFolder` with the model's preprocess, a `DataLoader`, arrays
concatenated and saved with `np.save`). It runs on open_clip's modules with random weights
(nothing is downloaded); clip_text_span's own copy of open_clip differs from them only by its
hook points. Prints one JSON line.

Usage: python benches/prs_reference.py --images DIR --arch vit-b-16 --batch 32 --threads 2
    --workers 2 [--limit N]. DIR holds one sub-folder of images, as ImageFolder reads it.
"""
import argparse
import json
import math
import os
import tempfile
import time

import numpy as np
import open_clip
import torch
from torch.utils.data import DataLoader
from torchvision.datasets import ImageFolder

ARCHS = {"vit-b-32": "ViT-B-32", "vit-b-16": "ViT-B-16", "vit-l-14": "ViT-L-14"}


class PRSLogger:
    """prs_hook.py `PRSLogger` with spatial=False, fed by the patched modules below."""

    def __init__(self, model):
        self.model = model
        self.reinit()

    def reinit(self):
        self.current_layer = 0
        self.attentions, self.mlps = [], []
        self.post_ln_mean = self.post_ln_std = None

    def compute_attentions_non_spatial(self, ret):  # [b, n, h, d]
        bias = self.model.visual.transformer.resblocks[self.current_layer].attn.out_proj.bias
        self.current_layer += 1
        value = ret[:, 0].detach().cpu()
        self.attentions.append(value + bias[np.newaxis, np.newaxis].cpu() / value.shape[1])

    def compute_mlps(self, ret):
        self.mlps.append(ret[:, 0].detach().cpu())

    def _post_ln(self, terms, extra_dims, count):
        mean = self.post_ln_mean.reshape(self.post_ln_mean.shape + (1,) * extra_dims)
        std = self.post_ln_std.reshape(self.post_ln_std.shape + (1,) * extra_dims)
        ln = self.model.visual.ln_post
        centred = ln.weight.detach() * (terms - mean / count)
        return (centred / std + ln.bias.detach() / count) @ self.model.visual.proj.detach()

    def finalize(self, representation):
        self.attentions = torch.stack(self.attentions, axis=1)  # [b, l, h, d]
        self.mlps = torch.stack(self.mlps, axis=1)  # [b, l + 1, d]
        n = self.attentions.shape[1] + self.mlps.shape[1]
        attentions = self._post_ln(self.attentions, 2, n * self.attentions.shape[2])
        mlps = self._post_ln(self.mlps, 1, n)
        norm = representation.norm(dim=-1).detach()
        return attentions / norm[:, None, None, None], mlps / norm[:, None, None]


def per_head_no_spatial(attn, x, prs, attn_mask=None):
    """utils/transformer.py `forward_per_head_no_spatial` on an nn.MultiheadAttention (x: B, N, C)."""
    _, _, c = x.shape
    h = attn.num_heads
    hd = c // h
    w, b = attn.in_proj_weight, attn.in_proj_bias
    qw, kw, vw = (w[i * c:(i + 1) * c].reshape(h, hd, -1) for i in range(3))
    qb, kb, vb = (b[i * c:(i + 1) * c].reshape(1, h, 1, hd) for i in range(3))
    q = torch.einsum("bnc,hdc->bhnd", x, qw) + qb
    k = torch.einsum("bnc,hdc->bhnd", x, kw) + kb
    v = torch.einsum("bnc,hdc->bhnd", x, vw) + vb
    q = q / math.sqrt(q.size()[-1])
    a = q @ k.transpose(-2, -1)
    if attn_mask is not None:
        a += attn_mask
    a = a.softmax(dim=-1)
    x = torch.einsum("bhnm,bhmc->bnhc", a, v)
    x = torch.einsum("bnhc,dhc->bnhd", x, attn.out_proj.weight.reshape(c, h, hd))
    prs.compute_attentions_non_spatial(x)
    return x.sum(axis=2) + attn.out_proj.bias


class Logged(torch.nn.Module):
    """A module whose output's CLS row goes to the logger (the MLPs' c_proj.post, ln_pre_post)."""

    def __init__(self, inner, log):
        super().__init__()
        self.inner, self.log = inner, log

    def forward(self, x):
        y = self.inner(x)
        self.log(y)
        return y


class LoggedLayerNorm(torch.nn.Module):
    """ln_post, logging its input's mean and sqrt(var + eps) as clip_text_span's LayerNorm hooks."""

    def __init__(self, ln, prs):
        super().__init__()
        self.ln, self.prs = ln, prs
        self.weight, self.bias = ln.weight, ln.bias

    def forward(self, x):
        # open_clip normalises every token before taking the CLS one (clip_text_span's copy
        # pools first); LayerNorm is per token, so the CLS row's statistics are the same.
        cls = x[:, 0] if x.dim() == 3 else x
        self.prs.post_ln_mean = cls.mean(dim=-1, keepdim=True).detach().cpu()
        var = cls.var(dim=-1, keepdim=True, unbiased=False)
        self.prs.post_ln_std = torch.sqrt(var + self.ln.eps).detach().cpu()
        return self.ln(x)


def hook(model, prs):
    visual = model.visual
    assert getattr(visual.transformer, "batch_first", True), "needs a batch-first open_clip"
    for block in visual.transformer.resblocks:
        block.attention = (
            lambda q_x, k_x=None, v_x=None, attn_mask=None, attn=block.attn:
            per_head_no_spatial(attn, q_x, prs, attn_mask)
        )
        block.mlp = Logged(block.mlp, prs.compute_mlps)
    visual.ln_pre = Logged(visual.ln_pre, prs.compute_mlps)
    visual.ln_post = LoggedLayerNorm(visual.ln_post, prs)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--images", required=True)
    p.add_argument("--arch", default="vit-b-16", choices=sorted(ARCHS))
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--workers", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model, _, preprocess = open_clip.create_model_and_transforms(ARCHS[args.arch], pretrained=None)
    model.eval()
    prs = PRSLogger(model)
    hook(model, prs)
    ds = ImageFolder(root=args.images, transform=preprocess)
    loader = DataLoader(ds, batch_size=args.batch, shuffle=False, num_workers=args.workers)
    out = tempfile.mkdtemp()
    start = time.perf_counter()
    attention_results, mlp_results, identity = [], [], 0.0
    with torch.no_grad():
        for image, _ in loader:
            prs.reinit()
            representation = model.encode_image(image, normalize=False)
            attentions, mlps = prs.finalize(representation)
            # The decomposition's identity: the terms sum to the unit embedding.
            total = attentions.sum(axis=(1, 2)) + mlps.sum(axis=1)
            unit = representation / representation.norm(dim=-1, keepdim=True)
            identity = max(identity, (total - unit).abs().max().item())
            attention_results.append(attentions.detach().cpu().numpy())  # [b, l, h, d]
            mlp_results.append(mlps.detach().cpu().numpy())
    with open(os.path.join(out, "attn.npy"), "wb") as f:
        np.save(f, np.concatenate(attention_results, axis=0))
    with open(os.path.join(out, "mlp.npy"), "wb") as f:
        np.save(f, np.concatenate(mlp_results, axis=0))
    seconds = time.perf_counter() - start
    print(json.dumps({
        "pipeline": "clip_text_span compute_prs head_no_spatial",
        "arch": args.arch, "images": len(ds), "seconds": seconds,
        "images_per_s": len(ds) / seconds, "torch": torch.__version__,
        "shape": list(np.concatenate(attention_results, axis=0).shape),
        "identity_max_error": identity,
    }))


if __name__ == "__main__":
    main()
