"""Lecture 12 (siamese-hd): variants of the recipe, trained anywhere and measured where the Inception weights are.

    python benchmarks/siamese_hd_variants.py train G.pt base='{"marks": [2500, 5000]}' \\
        tw5='{"settings": {"travel_weight": 5.0}, "marks": [2500]}' gpu='{"budget": "gpu", "marks": [2500]}'
    python benchmarks/siamese_hd_variants.py evaluate G.pt [more.pt ...] --out results.jsonl [--at-factor 2]

``train``: each NAME=JSON is a run of ``recipe.make_trainer`` (the Combo model, or ``"naive": true``) at
``"budget"`` (default cpu) with ``"settings"`` overriding the budget's settings (any
``SiameseHDConfig`` field: lr, travel_weight, identity_weight, detail_window, ...), seed ``"seed"``;
after each of ``"marks"`` updates the moving average of G is saved into the .pt file (rewritten after
each, so a run cut short keeps its G's; with ``"raw": true`` the last G itself is saved beside it, as
NAME@MARK:raw). It runs on the machine's device: a GPU machine without the
FID Inception weights can train, and this machine can ``evaluate``.
``evaluate``: the recipe's own ``evaluate`` (seam scores, style distance closed) on the held-out photo
for every saved G, one JSON line each. The held-out photo is taken at each run's own training scale,
or at ``--at-factor``'s downscale for all (to compare runs trained at different factors on one scale).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time

import torch

from course_lib.models import siamese_hd as shd
from course_lib.recipes import siamese_hd as recipe
from records import emit  # benchmarks/records.py: a script's own folder is on sys.path

FIELDS = {f.name for f in dataclasses.fields(shd.SiameseHDConfig)}
RUN_KEYS = {"budget", "settings", "seed", "naive", "marks", "raw"}  # what a NAME=JSON run may name


def train(path: str, variants: list[tuple[str, dict]]) -> None:
    saved: dict = {}
    for name, v in variants:
        s = {**recipe.settings(v.get("budget", "cpu")), **v.get("settings", {})}
        seed = v.get("seed", 0)
        tr = recipe.make_trainer(recipe.load_data(s, seed), s, seed, naive=v.get("naive", False))
        t0 = time.perf_counter()
        for mark in v["marks"]:
            tr.fit(mark, progress=False)
            kept = {"": tr.sampler(), ":raw": tr.G} if v.get("raw") else {"": tr.sampler()}
            for suffix, G in kept.items():
                saved[f"{name}@{mark}{suffix}"] = {
                    "settings": s, "seed": seed, "naive": v.get("naive", False), "step": mark,
                    "sec": round(time.perf_counter() - t0, 1), "device": str(tr.device),
                    "G": {k: x.detach().cpu().clone() for k, x in G.state_dict().items()}}
            torch.save(saved, path)
            print(name, mark, f"{time.perf_counter() - t0:.0f} s", flush=True)


def evaluate(paths: list[str], out: str | None, at_factor: float | None = None) -> None:
    domains = {}
    for path in paths:
        for key, e in torch.load(path, map_location="cpu", weights_only=False).items():
            s = e["settings"]
            data_s = s if at_factor is None else {**s, "factor": at_factor}
            G = shd.Generator(recipe.model_config(s))
            G.load_state_dict(e["G"])
            data_key = (s["tile"], data_s["factor"], s.get("max_side"), e["seed"])
            if data_key not in domains:
                domains[data_key] = recipe.load_data(data_s, e["seed"])
            m = recipe.evaluate(G, None, domains[data_key], s["tile"])
            row = {"run": key, "train_seconds": e["sec"], "trained_on": e.get("device", "?"), "naive": e["naive"],
                   "changed": {k: v for k, v in s.items() if recipe.settings("cpu").get(k) != v}, **m}
            if at_factor is not None:
                row["measured_at_factor"] = at_factor
            emit(row, out)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train")
    t.add_argument("path")
    t.add_argument("variants", nargs="+", help='NAME=JSON, e.g. base=\'{"marks": [2500]}\'')
    e = sub.add_parser("evaluate")
    e.add_argument("paths", nargs="+")
    e.add_argument("--out")
    e.add_argument("--at-factor", type=float, help="measure every G on the held-out photo downscaled by this "
                   "factor instead of its run's own")
    args = p.parse_args()
    if args.command == "evaluate":
        return evaluate(args.paths, args.out, args.at_factor)
    variants = []
    for arg in args.variants:
        name, _, text = arg.partition("=")
        try:
            v = json.loads(text)
        except json.JSONDecodeError as err:
            sys.exit(f"{arg!r}: the part after '=' must be JSON with at least \"marks\" ({err})")
        misplaced = set(v) - RUN_KEYS  # a setting beside "settings" instead of in it would be ignored
        if misplaced:
            sys.exit(f"{name}: unknown keys {sorted(misplaced)}; a run takes {sorted(RUN_KEYS)}, and settings go "
                     f"inside \"settings\", e.g. '{{\"settings\": {{\"lr\": 0.001}}, \"marks\": [2500]}}'")
        unknown = set(v.get("settings", {})) - FIELDS - set(recipe.settings("cpu")) - set(recipe.TRAINER_OPTIONS)
        if "marks" not in v or unknown:
            sys.exit(f"{name}: needs \"marks\" (a list of update counts); unknown settings: {sorted(unknown)}")
        variants.append((name, v))
    train(args.path, variants)


if __name__ == "__main__":
    main()
