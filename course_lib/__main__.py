"""Command line: train a registered model, or draw samples from a trained one.

    python -m course_lib train dcgan --data anime --budget cpu --out runs/dcgan
    python -m course_lib sample runs/dcgan --n 64 --seed 0 --out samples.pt
    python -m course_lib list
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

from .storage import atomic_save, atomic_write_text


def _train(args: argparse.Namespace) -> int:
    import importlib

    from . import registry
    from .runtime import parse_budget, seed_everything

    seed_everything(args.seed)
    entry = registry.MODELS.get(args.model)
    if entry is None:
        raise ValueError(f"Unknown model {args.model!r}. Known models: {', '.join(sorted(registry.MODELS))}.")
    data = args.data or entry.data[0]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if entry.run is not None:  # models with their own schedule (ConSinGAN's stages, non-GAN nets)
        run = getattr(importlib.import_module(entry.module), entry.run)
        metrics = run(data, parse_budget(args.budget), args.seed, out, steps=args.steps,
                             resume=args.resume, progress=not args.quiet)
    else:
        exp = registry.experiment(args.model, data, args.budget, seed=args.seed, steps=args.steps)
        metrics = train_gan(exp, out, resume=args.resume, progress=not args.quiet)
    atomic_write_text(json.dumps(metrics, indent=2, default=float), out / "metrics.json")
    print(json.dumps({k: v for k, v in metrics.items() if k != "settings"}, indent=2, default=float))
    print(f"wrote {', '.join(str(p) for p in sorted(out.iterdir()) if p.is_file())}", file=sys.stderr)
    return 0


def train_gan(exp, out: Path, resume: bool = False, progress: bool = True) -> dict:
    """The generic run: train with snapshots and checkpoints, then write the figures and measure."""
    from . import evaluation, plotting
    from .runtime import describe
    from .training import snapshot_callback

    tr = exp.trainer
    ckpt = out / "checkpoint.pt"
    tr.checkpoint_path, tr.checkpoint_every = ckpt, max(1, exp.steps // 10)
    print(describe().replace("budget: ", f"budget: {exp.budget} (asked) / "), file=sys.stderr)
    print(f"data: {exp.data.source}", file=sys.stderr)
    fixed = evaluation.fixed_inputs(exp, n=64)
    tr.callbacks.append(snapshot_callback(fixed[0], exp.snapshot_steps, *fixed[1:]))
    if resume and ckpt.is_file():
        tr.check_resumable(ckpt)
        tr.load(ckpt)
        print(f"resumed from {ckpt} at step {tr.step}", file=sys.stderr)
    start_step, t0 = tr.step, time.perf_counter()
    tr.fit(exp.steps, progress=progress, desc=f"{exp.model} on {exp.data.name}")
    seconds = time.perf_counter() - t0
    metrics = {
        "model": exp.model, "data": exp.data.name, "data_source": exp.data.source, "budget": exp.budget,
        "device": str(tr.device), "steps": tr.step, "seconds": round(seconds, 2),
        "images_per_second": round(sum(tr.critic_steps(s) + 1 for s in range(start_step, tr.step))
                                   * tr.data.batch_size / max(seconds, 1e-9), 1),
        "settings": exp.settings,
    }
    if exp.evaluate is not None:
        metrics.update(exp.evaluate(exp, progress))
    if exp.data.images.dim() == 4:  # image models: the timeline and a grid of samples
        import matplotlib.pyplot as plt

        plotting.save_figure(plotting.timeline(tr.snapshots, title=f"{exp.model}: {exp.data.source}"), out / "timeline.png")
        fig, ax = plt.subplots(figsize=(6, 6))
        plotting.show_grid(tr.sample(*fixed), nrow=8, ax=ax, title=f"{exp.model} after {tr.step:,} updates")
        plotting.save_figure(fig, out / "samples.png")
        plt.close("all")
    return metrics


def _sample(args: argparse.Namespace) -> int:
    from . import registry
    from .storage import safe_load

    path = Path(args.run)
    ckpt = path / "checkpoint.pt" if path.is_dir() else path
    state = safe_load(ckpt)
    settings = state.get("config") or {}
    recipe = registry.recipe_module(settings.get("model"))
    if hasattr(recipe, "sample_from_checkpoint"):  # models whose sampling is not G(z[, label])
        samples = recipe.sample_from_checkpoint(state, n=args.n, seed=args.seed, label=args.label)
        return _write_samples(samples, Path(args.out))
    G = registry.generator_from_settings(settings)
    G.load_state_dict(state["G_ema"] if state.get("G_ema") is not None else state["G"])
    G.eval()
    z_dim = settings["model_config"]["z_dim"]
    z = torch.randn(args.n, z_dim, generator=torch.Generator().manual_seed(args.seed))
    extra = ()
    if args.label is not None:
        n_classes = settings["model_config"].get("n_classes", 0)
        if not n_classes:
            raise ValueError(f"--label given, but {settings.get('model')!r} is not a conditional model.")
        if not 0 <= args.label < n_classes:
            raise ValueError(f"--label must be in 0..{n_classes - 1}, got {args.label}.")
        extra = (torch.full((args.n,), args.label, dtype=torch.long),)
    with torch.no_grad():
        samples = G(z, *extra).float()
    return _write_samples(samples, Path(args.out))


def _write_samples(samples: torch.Tensor, out: Path) -> int:
    atomic_save(samples.detach().cpu().float(), out)
    print(f"wrote samples shaped {tuple(samples.shape)} to {out}")
    return 0


def _list(_: argparse.Namespace) -> int:
    from . import registry

    for name, entry in sorted(registry.MODELS.items()):
        print(f"{name:12s} data: {', '.join(entry.data):24s} ({entry.paper})")
    return 0


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m course_lib", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train a model; writes checkpoint.pt, samples.png, timeline.png, metrics.json")
    t.add_argument("model")
    t.add_argument("--data", default=None, help="a dataset name (default: the model's first; see `list`)")
    t.add_argument("--budget", default=None, help="smoke | cpu | gpu (default: COURSE_BUDGET, else gpu with CUDA, else cpu)")
    t.add_argument("--out", required=True)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--steps", type=_positive_int, default=None, help="override the budget's number of G updates")
    t.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt if it exists")
    t.add_argument("--quiet", action="store_true", help="no progress bars")
    t.set_defaults(func=_train)
    s = sub.add_parser("sample", help="write N samples of a trained model as a float tensor in [-1, 1]")
    s.add_argument("run", help="a run folder (with checkpoint.pt) or a checkpoint file")
    s.add_argument("--n", type=_positive_int, default=64)
    s.add_argument("--label", type=int, default=None)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--out", required=True)
    s.set_defaults(func=_sample)
    sub.add_parser("list", help="the registered models").set_defaults(func=_list)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, FileNotFoundError) as err:  # user errors: a message, not a traceback
        print(f"error: {err}", file=sys.stderr)
        return 2
    except RuntimeError as err:
        # course_lib's own RuntimeErrors (a diverged run, missing FID weights, no loss network) carry
        # a message that says what to do; anything else is a bug and keeps its traceback
        if not type(err).__module__.startswith("course_lib"):
            raise
        print(f"error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
