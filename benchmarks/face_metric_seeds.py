"""Benchmark: how far the face-FD figures move when the feature network is trained with another seed.

Every face FD in the course (lectures 01, 03, 05; issue bars "FD <= 0.1 x the blurred baseline" and
"below the one-hair-colour baseline") is measured with one feature network, trained on seed
FEATURE_TRAIN_SEED. Another seed gives a network with the same recipe and accuracy but other feature
scales. This benchmark re-measures finished runs, the same samples each time, with several such
networks. Differences between runs smaller than this spread are not worth a claim.

    python -m course_lib train dcgan --data anime --budget cpu --out runs/dcgan-s0
    flock /tmp/course_cpu.lock python benchmarks/face_metric_seeds.py runs/dcgan-s0 [RUN ...] --net-seeds 1 11 12 13
    (writes benchmarks/results/face_metric_seeds_<budget>.json and .md; --keep-other-runs keeps the
    runs already there that are not given again)

Each run's samples are what its metrics.json measured: G_ema with its batch-norm statistics
refreshed, on the evaluation noise (seed EVAL_NOISE_SEED). With the course's own network seed the
FD here equals the run's metrics.json FD. A network takes about 2 minutes to train at the cpu scale;
it is cached like the course's own.
"""
from __future__ import annotations

import argparse
import json
import platform
import statistics
from pathlib import Path

import torch

from course_lib import registry, runtime
from course_lib.evaluation import EVAL_NOISE_SEED, fixed_noise
from course_lib.metrics.faces import FEATURE_TRAIN_SEED, FaceEvaluator
from course_lib.storage import safe_load

BASELINES = ("real_heldout", "real_blurred", "real_one_hair_colour")


def run_samples(run_dir: Path, n: int) -> tuple[str, dict, torch.Tensor]:
    """(name, settings, samples) of a finished ``python -m course_lib train`` run on procedural faces."""
    ckpt = run_dir / "checkpoint.pt"
    if not ckpt.is_file():
        raise SystemExit(f"{run_dir} has no checkpoint.pt: give the --out folder of a finished "
                         "`python -m course_lib train MODEL --data anime` run.")
    settings = safe_load(ckpt)["config"]
    if settings.get("data") != "anime" or "procedural" not in str(settings.get("data_source", "")):
        raise SystemExit(f"{run_dir} was not trained on procedural anime faces ({settings.get('data_source')}); "
                         "the face-feature FD needs them.")
    exp = registry.experiment(settings["model"], "anime", settings["budget"], settings["seed"], device="cpu",
                              steps=settings["steps"])
    exp.trainer.load(ckpt)
    z = fixed_noise(n, settings["model_config"]["z_dim"], EVAL_NOISE_SEED)
    return f"{settings['model']} seed {settings['seed']}", settings, exp.trainer.sample(z)


def keep_other_runs(path: Path, rows: list[dict], names: list[str], run_dirs: dict) -> tuple[list[str], dict]:
    """Put the runs of an earlier results file that were not measured again into ``rows`` (in place)."""
    if not path.is_file():
        return names, run_dirs
    old = json.loads(path.read_text())
    old_rows = {r["net_seed"]: r for r in old["rows"]}
    missing = [r["net_seed"] for r in rows if r["net_seed"] not in old_rows]
    if missing:
        raise SystemExit(f"{path} has no rows for network seeds {missing}: measure every run again instead.")
    kept = [n for n in old["runs"] if n not in names]
    for r in rows:
        r["runs"] = {**{n: old_rows[r["net_seed"]]["runs"][n] for n in kept}, **r["runs"]}
    return kept + names, {**{n: old["runs"][n] for n in kept}, **run_dirs}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("runs", nargs="+", type=Path, help="--out folders of finished face runs")
    p.add_argument("--net-seeds", type=int, nargs="+", default=[FEATURE_TRAIN_SEED, 11, 12, 13])
    p.add_argument("--n", type=int, default=2000, help="samples per set (the course's standard: 2,000)")
    p.add_argument("--quiet", action="store_true")
    p.add_argument("--keep-other-runs", action="store_true",
                   help="keep the runs already in the results file that are not measured again (same network seeds)")
    args = p.parse_args()
    runs = [run_samples(r, args.n) for r in args.runs]
    budgets = {s["budget"] for _, s, _ in runs}
    sizes = {x.shape[-1] for _, _, x in runs}
    if len(budgets) != 1 or len(sizes) != 1:
        raise SystemExit(f"Give runs of one budget and image size (got budgets {budgets}, sizes {sizes}).")
    budget, size = budgets.pop(), sizes.pop()

    rows = []
    for net_seed in args.net_seeds:
        ev = FaceEvaluator(size, n=args.n, budget_name=budget, progress=not args.quiet, net_seed=net_seed)
        base = ev.baselines()
        row = {"net_seed": net_seed, "min_accuracy": min(ev.accuracy.values()), "reportable": ev.reportable,
               **{k: base[k] for k in BASELINES}, "runs": {}}
        for name, _, samples in runs:
            fd = ev.fd(samples)
            row["runs"][name] = {"fd": fd, "over_blurred": fd / base["real_blurred"],
                                 "over_one_hair_colour": fd / base["real_one_hair_colour"]}
        rows.append(row)
        print(json.dumps(row), flush=True)

    names = [name for name, _, _ in runs]
    run_dirs = {name: str(r) for name, r in zip(names, args.runs)}
    out = Path(__file__).parent / "results"
    if args.keep_other_runs:
        names, run_dirs = keep_other_runs(out / f"face_metric_seeds_{budget}.json", rows, names, run_dirs)
    spread = {name: [r["runs"][name]["over_blurred"] for r in rows] for name in names}
    result = {"benchmark": "face-feature FD under feature networks trained with other seeds",
              "budget": budget, "image_size": size, "samples": args.n, "course_net_seed": FEATURE_TRAIN_SEED,
              "machine": platform.processor() or platform.machine(), "torch": torch.__version__,
              "runs": run_dirs, "rows": rows}
    out.mkdir(exist_ok=True)
    (out / f"face_metric_seeds_{budget}.json").write_text(json.dumps(result, indent=2))

    lines = [f"# Face FD under feature networks of other seeds (budget {budget}, {size}x{size}, {args.n} samples per set)",
             "", f"The course's network is seed {FEATURE_TRAIN_SEED}. Each cell: FD, and FD / the blurred baseline.", "",
             "| net seed | worst attribute accuracy | floor | blurred | one hair colour | " + " | ".join(names) + " |",
             "|---|---|---|---|---|" + "---|" * len(names)]
    for r in rows:
        cells = " | ".join(f"{r['runs'][n]['fd']:.4g} ({r['runs'][n]['over_blurred']:.3f})" for n in names)
        lines.append(f"| {r['net_seed']} | {r['min_accuracy']:.1%} | {r['real_heldout']:.4g} | {r['real_blurred']:.4g} | "
                     f"{r['real_one_hair_colour']:.4g} | {cells} |")
    lines.append("")
    for name in names:
        v = spread[name]
        below_one_hair = sum(r["runs"][name]["over_one_hair_colour"] < 1 for r in rows)
        lines.append(f"- **{name}**: FD / blurred {min(v):.3f}-{max(v):.3f} (median {statistics.median(v):.3f}); "
                     f"at most 0.1 with {sum(x <= 0.1 for x in v)} of {len(v)} networks, below the one-hair-colour "
                     f"baseline with {below_one_hair} of {len(v)}.")
    (out / f"face_metric_seeds_{budget}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    runtime.seed_everything(0)
    main()
