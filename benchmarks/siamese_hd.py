"""Lecture 12 (siamese-hd): full-image translation speed, and the quality bars of a training run.

    flock /tmp/course_cpu.lock .venv/bin/python benchmarks/siamese_hd.py --speed-only
    flock /tmp/course_cpu.lock .venv/bin/python benchmarks/siamese_hd.py --budget cpu [--seeds 0 1]

Speed: a 2048 x 2048 image translated tile by tile (``translate_full``, tiles batched) with the
cpu-budget G (S = 32) and the lecture-scale G (S = 64), and the same G applied to the whole image at
once; seconds per image and images per second. Weights do not change the cost, so untrained G's are
timed (the device is the machine's, COURSE_DEVICE overrides).

Quality (issue 4): for each seed, ``recipe.run`` at the budget (Combo and naive, exactly as
``python -m course_lib train siamese-hd`` does); the bars are combo seam score <= 1.3 and below the
naive model's, and the Combo translation closing at least half of the style distance from the held-out
photo to its painterly version. The seam band (``seam_band``: the border's step profile, frames
included) is reported beside the seam score. Writes benchmarks/results/siamese_hd_<budget>.json and .md.
"""
from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import torch

from course_lib import runtime
from course_lib.models import siamese_hd as shd
from course_lib.recipes import siamese_hd as recipe

RESULTS = Path(__file__).resolve().parent / "results"
SEAM_BAR, STYLE_BAR = 1.3, 0.5  # issue 4: the Combo's seam score at most this, and at least this share of the style distance closed


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def speed(side: int = 2048, repeats: int = 2, batch_size: int = 256) -> list[dict]:
    device = runtime.get_device()
    image = torch.rand(3, side, side, generator=torch.Generator().manual_seed(0)).to(device) * 2 - 1
    rows = []
    for budget in ("cpu", "gpu"):
        cfg = recipe.model_config(recipe.settings(budget))
        G = shd.Generator(cfg).to(device).eval()
        for how in ("tiles", "whole image"):
            fn = (lambda: shd.translate_full(G, image, cfg.tile, batch_size=batch_size)) if how == "tiles" \
                else (lambda: shd.translate_whole(G, image))
            fn()  # warm-up (allocations, cuDNN autotuning)
            _sync(device)
            t0 = time.perf_counter()
            for _ in range(repeats):
                out = fn()
            _sync(device)
            seconds = (time.perf_counter() - t0) / repeats
            assert out.shape == image.shape
            rows.append({"G": f"{budget} budget (S = {cfg.tile}, width {cfg.g_width})", "how": how, "side": side,
                         "tiles": (side // cfg.tile) ** 2 if how == "tiles" else 1, "seconds": round(seconds, 3),
                         "images_per_second": round(1 / seconds, 3), "device": str(device)})
            print(rows[-1], flush=True)
    return rows


def quality(budget: str, seeds: list[int], progress: bool) -> list[dict]:
    rows = []
    for seed in seeds:
        runtime.seed_everything(seed)
        with tempfile.TemporaryDirectory() as out:
            t0 = time.perf_counter()
            m = recipe.run("painterly", budget, seed, out, progress=progress)
            seconds = time.perf_counter() - t0
        row = {"seed": seed, "total_seconds": round(seconds, 1), **{k: v for k, v in m.items() if k != "settings"}}
        row["bars"] = {"combo seam <= 1.3": m["seam_combo"] <= SEAM_BAR, "combo seam < naive": m["seam_combo"] < m["seam_naive"],
                       "combo closes >= 1/2 of the style distance": m["style_closed_combo"] >= STYLE_BAR}
        rows.append(row)
        print(json.dumps(row, indent=1), flush=True)
    return rows


def markdown(result: dict) -> str:
    lines = [f"# siamese-hd benchmark ({result['budget']} budget)", "",
             f"Machine: {result['machine']}, torch {result['torch']}, {result['threads']} threads.", ""]
    if result["speed"]:
        lines += ["## Full-image translation speed", "", "| G | how | image | tiles | seconds | images/s | device |",
                  "|---|---|---|---|---|---|---|"]
        lines += [f"| {r['G']} | {r['how']} | {r['side']}x{r['side']} | {r['tiles']:,} | {r['seconds']} | "
                  f"{r['images_per_second']} | {r['device']} |" for r in result["speed"]]
        lines.append("")
    if result["quality"]:
        lines += ["## Quality (held-out astronaut at the training scale)", "",
                  "| seed | train s (combo + naive) | seam photo | seam naive | seam combo | seam whole | "
                  "band photo | band naive | band combo | style photo | closed naive | closed combo | bars |",
                  "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for r in result["quality"]:
            bars = ", ".join(f"{k}: {'yes' if v else 'NO'}" for k, v in r["bars"].items())
            lines.append(f"| {r['seed']} | {r['seconds_combo'] + r['seconds_naive']:.0f} | {r['seam_photo']:.3f} | "
                         f"{r['seam_naive']:.3f} | {r['seam_combo']:.3f} | {r['seam_combo_whole']:.3f} | "
                         f"{r['seam_band_photo']:.2f} | {r['seam_band_naive']:.2f} | {r['seam_band_combo']:.2f} | "
                         f"{r['style_photo']:.4f} | {r['style_closed_naive']:.1%} | {r['style_closed_combo']:.1%} | {bars} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--budget", default="cpu")
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--speed-only", action="store_true")
    p.add_argument("--no-speed", action="store_true")
    p.add_argument("--quiet", action="store_true")
    args = p.parse_args()
    budget = runtime.parse_budget(args.budget)
    result = {"budget": budget, "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
              "torch": torch.__version__, "threads": torch.get_num_threads(),
              "speed": [] if args.no_speed else speed(), "quality": [] if args.speed_only else quality(budget, args.seeds, not args.quiet)}
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = "siamese_hd_speed" if args.speed_only else f"siamese_hd_{budget}"
    (RESULTS / f"{name}.json").write_text(json.dumps(result, indent=2))
    (RESULTS / f"{name}.md").write_text(markdown(result))
    print(markdown(result))


if __name__ == "__main__":
    main()
