"""The objectives of lectures 02 and 05, measured: model, data, budget, seconds, metrics.

    python benchmarks/zoo_objectives.py                      # cpu budget: GAN, WGAN, WGAN-GP on the toys, 3 seeds
    python benchmarks/zoo_objectives.py --runs wgan-gp:anime # the face run (FD with baselines, memorisation, FID)
    python benchmarks/zoo_objectives.py --budget smoke --seeds 0
    python benchmarks/zoo_objectives.py --runs --from-runs runs/wgan-gp  # add finished CLI runs (their metrics.json)

Each run goes through the same path as ``python -m course_lib train`` (``__main__.train_gan``:
the registered recipe, its evaluation, checkpoint and figures in a run folder). Toys report VEEGAN's
mode coverage (2,500 samples; modes captured, % high-quality); faces report lecture 01's bars.
Results are appended to benchmarks/results/zoo_objectives.json (one record per run, with the
machine) and the table is rewritten in benchmarks/results/zoo_objectives.md, with 3-seed means.
Time it under the course's CPU lock when others share the machine.
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent
RESULTS = ROOT / "results"
DEFAULT_RUNS = ["gan:ring8", "gan:grid25", "wgan-gp:ring8", "wgan-gp:grid25", "wgan:ring8"]


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def run_one(model: str, data: str, budget: str, seed: int, out: Path) -> dict:
    from course_lib import registry
    from course_lib.__main__ import train_gan
    from course_lib.runtime import seed_everything

    seed_everything(seed)
    exp = registry.experiment(model, data, budget, seed=seed)
    t0 = time.perf_counter()
    metrics = train_gan(exp, out, progress=False)
    metrics["wall_seconds"] = round(time.perf_counter() - t0, 1)  # training + evaluation
    return metrics


def summary(m: dict) -> dict:
    """The figures the table shows, from a metrics.json record."""
    if "coverage" in m:
        c = m["coverage"]
        return {"modes": c["modes"], "n_modes": c["n_modes"], "high_quality": round(c["high_quality"], 4)}
    keys = ("fd", "fd_over_blurred", "bars", "memorisation", "fd_baselines")
    out = {k: m[k] for k in keys if k in m}
    if "fid" in m:
        out["fid"] = {"value": m["fid"]["value"], "samples": m["fid"]["samples"]}
    return out


def write_table(records: list[dict], path: Path) -> None:
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for r in records:
        groups[(r["model"], r["data"], r["budget"], r["machine"])].append(r)
    lines = ["# Lectures 02 and 05: objectives on the 2-D toys and faces", "",
             "Written by `benchmarks/zoo_objectives.py`. Toys: VEEGAN's protocol (2,500 samples; a sample is high",
             "quality within 3 std of its nearest mode; modes captured of 8 or 25). Seconds: training (and",
             "evaluation) wall time on the machine named.", "",
             "| model | data | budget | seeds | G updates | train s (mean) | modes (mean) | % HQ (mean) | per seed | machine |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for (model, data, budget, machine), rs in sorted(groups.items()):
        rs = sorted(rs, key=lambda r: r["seed"])
        secs = sum(r["seconds"] for r in rs) / len(rs)
        if "modes" in rs[0]["summary"]:
            modes = sum(r["summary"]["modes"] for r in rs) / len(rs)
            hq = 100 * sum(r["summary"]["high_quality"] for r in rs) / len(rs)
            per = ", ".join(f"{r['summary']['modes']}/{100 * r['summary']['high_quality']:.1f}%" for r in rs)
            lines.append(f"| {model} | {data} | {budget} | {len(rs)} | {rs[0]['steps']:,} | {secs:.0f} | {modes:.2f} "
                         f"| {hq:.1f} | {per} | {machine} |")
        else:
            s = rs[-1]["summary"]
            base = s.get("fd_baselines", {})
            per = (f"FD {s.get('fd', float('nan')):.1f} (blurred {base.get('real_blurred', float('nan')):.1f}, one hair "
                   f"{base.get('real_one_hair_colour', float('nan')):.1f}); bars {s.get('bars')}; "
                   f"FID {s.get('fid', {}).get('value', float('nan')):.1f} on {s.get('fid', {}).get('samples')} samples")
            lines.append(f"| {model} | {data} | {budget} | {len(rs)} | {rs[0]['steps']:,} | {secs:.0f} | - | - | {per} | {machine} |")
    path.write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--budget", default="cpu")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--runs", nargs="*", default=DEFAULT_RUNS, help="model:data pairs")
    p.add_argument("--from-runs", nargs="*", default=[], help="folders of finished `python -m course_lib train` runs")
    p.add_argument("--out", default=None, help="run folders (default: a temporary folder)")
    p.add_argument("--results", default=str(RESULTS / "zoo_objectives.json"))
    args = p.parse_args(argv)

    from course_lib.runtime import describe

    machine = f"{cpu_name()}, {torch.get_num_threads()} threads"
    results = Path(args.results)
    results.parent.mkdir(parents=True, exist_ok=True)
    records = json.loads(results.read_text()) if results.is_file() else []
    out_root = Path(args.out or tempfile.mkdtemp(prefix="zoo_objectives_"))
    print(describe(), file=sys.stderr)
    def add(m: dict) -> None:
        nonlocal records
        model, data, budget, seed = m["model"], m["data"], m["budget"], m["settings"]["seed"]
        rec = {"model": model, "data": data, "budget": budget, "seed": seed, "steps": m["steps"],
               "seconds": m["seconds"], "wall_seconds": m.get("wall_seconds"), "machine": machine,
               "torch": torch.__version__, "summary": summary(m)}
        records = [r for r in records if (r["model"], r["data"], r["budget"], r["seed"], r["machine"])
                   != (model, data, budget, seed, machine)] + [rec]
        results.write_text(json.dumps(records, indent=1))
        write_table(records, results.with_suffix(".md"))
        print(json.dumps(rec), flush=True)

    for folder in args.from_runs:
        add(json.loads((Path(folder) / "metrics.json").read_text()))
    for spec in args.runs:
        model, _, data = spec.partition(":")
        seeds = args.seeds if data != "anime" else args.seeds[:1]  # one face run: minutes each
        for seed in seeds:
            add(run_one(model, data, args.budget, seed, out_root / f"{model}-{data}-s{seed}"))
    print(f"wrote {results} and {results.with_suffix('.md')}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
