"""ConSinGAN at a budget: time per stage and in total, SIFID beside its baselines, diversity, and the
lr_scale comparison (0.1, the paper's default, against 0.5).

    flock /tmp/course_cpu.lock .venv/bin/python benchmarks/consingan.py --budget cpu [--seeds 0 1] [--data china]

Each (lr_scale, seed) trains the generation model exactly as `python -m course_lib train consingan`
does (same settings, same seed handling) and evaluates it on the budget's number of samples.
Writes benchmarks/results/consingan_<budget>.json and .md.
"""
from __future__ import annotations

import argparse
import json
import platform
import time
from dataclasses import replace
from pathlib import Path

import torch

from course_lib import runtime
from course_lib.recipes import consingan as recipe

RESULTS = Path(__file__).resolve().parent / "results"


def one_run(data: str, budget: str, lr_scale: float, seed: int, progress: bool) -> dict:
    cfg = replace(recipe.make_config(budget), lr_scale=lr_scale)
    image = recipe.load_photo(data)
    runtime.seed_everything(seed)
    tr = recipe.ConSinGANTrainer(image, cfg, seed=seed, record={"data": data})
    tr.fit(progress=progress)
    t0 = time.perf_counter()
    report = recipe.evaluate(tr, recipe.settings(budget)["n_eval"])
    return {"lr_scale": lr_scale, "seed": seed, "sizes": tr.sizes, "stage_seconds": tr.stage_seconds,
            "train_seconds": round(sum(tr.stage_seconds), 1), "eval_seconds": round(time.perf_counter() - t0, 1),
            **report}


def markdown(rows: list[dict], meta: dict) -> str:
    lines = [f"# ConSinGAN benchmark ({meta['budget']} budget, {meta['data']})", "",
             f"{meta['machine']}; {meta['n_stages']} stages, {meta['iters_per_stage']} iterations each, "
             f"{meta['channels']} channels; sizes {meta['sizes']}; {rows[0]['n_samples']} samples per model; "
             "SIFID at Inception conv_2 (TF-Inception weights, comparable within the course only).", "",
             "| lr_scale | seed | time per stage (s) | total (s) | SIFID | SIFID shuffled | SIFID blurred | "
             "SIFID reconstruction | diversity | diversity shuffled |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['lr_scale']} | {r['seed']} | {', '.join(f'{s:.0f}' for s in r['stage_seconds'])} | "
                     f"{r['train_seconds']:.0f} | {r['sifid']:.3f} | {r['sifid_shuffled']:.3f} | {r['sifid_blurred']:.3f} | "
                     f"{r['sifid_reconstruction']:.3f} | {r['diversity']:.3f} | {r['diversity_shuffled']:.3f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--budget", default="cpu")
    p.add_argument("--data", default="china")
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--lr-scales", type=float, nargs="+", default=[0.1, 0.5])
    p.add_argument("--quiet", action="store_true")
    args = p.parse_args()
    budget = runtime.parse_budget(args.budget)
    rows = [one_run(args.data, budget, lr, seed, not args.quiet) for seed in args.seeds for lr in args.lr_scales]
    for r in rows:
        print({k: v for k, v in r.items() if k != "sizes"})
    cfg = recipe.make_config(budget)
    meta = {"budget": budget, "data": args.data, "n_stages": cfg.n_stages, "iters_per_stage": cfg.iters_per_stage,
            "channels": cfg.channels, "sizes": rows[0]["sizes"], "torch": torch.__version__,
            "machine": f"{platform.machine()}, {torch.get_num_threads()} torch threads, device {runtime.get_device()}"}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"consingan_{budget}.json").write_text(json.dumps({"meta": meta, "runs": rows}, indent=2))
    (RESULTS / f"consingan_{budget}.md").write_text(markdown(rows, meta))
    print(markdown(rows, meta))


if __name__ == "__main__":
    main()
