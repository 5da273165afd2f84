"""Lecture 12 (siamese-hd): how far the lecture's G gets when it is shown the answer (a paired reference).

    python benchmarks/siamese_hd_paired.py [--budget cpu] [--steps 2500] [--seeds 0 1] [--out results.jsonl]

The unpaired Combo model closes about a fifth of the style distance from the held-out photo to its
painterly version; the issue's bar is half. This trains the same G (the budget's size, optimiser and
batch) on aligned S x S crops of the training photos and their painterly versions, with an L1 loss:
supervision the unpaired method never gets, so it is a reference for what this G can reach at this
budget, not a method of the lecture. It is measured with the recipe's own ``evaluate`` on the held-out
photo, which it never saw.
"""
from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F

from course_lib.data.painterly import PHOTOS_A, downscale, painted_photos, random_crops
from course_lib.data.photos import photo
from course_lib.models import siamese_hd as shd
from course_lib.recipes import siamese_hd as recipe
from course_lib.runtime import get_device
from records import emit  # benchmarks/records.py: a script's own folder is on sys.path


def paired_images(s: dict) -> list[torch.Tensor]:
    """Each training photo stacked with its painterly version, (6, h, w), at the training scale, so a
    crop of the stack is an aligned pair (made like the held-out ground truth: painterly, then downscale)."""
    paintings = painted_photos(s["factor"], max_side=s.get("max_side"))
    return [torch.cat([downscale(photo(n, max_side=s.get("max_side")), s["factor"]), p]) for n, p in zip(PHOTOS_A, paintings)]


def train_paired(s: dict, steps: int, seed: int, device) -> tuple[shd.Generator, float]:
    cfg = recipe.model_config(s)
    torch.manual_seed(seed)
    G = shd.Generator(cfg).to(device)
    opt = torch.optim.Adam(G.parameters(), lr=cfg.lr, betas=cfg.betas)
    pairs, g = paired_images(s), torch.Generator().manual_seed(seed)
    t0 = time.perf_counter()
    for _ in range(steps):
        crops = random_crops(pairs, cfg.batch_size, cfg.tile, g).to(device)
        loss = F.l1_loss(G(crops[:, :3]), crops[:, 3:])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return G.cpu().eval(), time.perf_counter() - t0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--budget", default="cpu", choices=["smoke", "cpu", "gpu"])
    p.add_argument("--steps", type=int, help="updates (default: the budget's Combo steps)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--out", help="JSON-lines file the results are appended to")
    args = p.parse_args()
    s = recipe.settings(args.budget)
    steps = args.steps or s["steps"]
    if steps < 1:
        p.error(f"--steps must be at least 1, got {steps}")
    for seed in args.seeds:
        G, seconds = train_paired(s, steps, seed, get_device())
        m = recipe.evaluate(G, None, recipe.load_data(s, seed), s["tile"])
        row = {"model": "paired L1 (reference)", "budget": args.budget, "seed": seed, "steps": steps,
               "train_seconds": round(seconds, 1), **m}
        emit(row, args.out)


if __name__ == "__main__":
    main()
