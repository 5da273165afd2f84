"""The original GAN (Goodfellow et al. 2014) on the 2-D mixtures ring8 and grid25, per budget.

Networks: the WGAN-GP authors' toy MLPs (3 hidden ReLU layers, 2-D noise, batch 256), 512 wide at
the gpu budget, 128 at cpu, 32 at smoke (see ``course_lib.models.mlp``). D is trained once per G
step (Goodfellow's k = 1) with binary cross-entropy on logits; G uses the non-saturating loss.
Optimiser: Adam 1e-3, betas (0.5, 0.999) (the paper used SGD with momentum; Adam with DCGAN's
beta1 is what later 2-D studies use; Metz et al. used 1e-4 with 20,000 updates: in the 3,000 of the
cpu budget G's samples do not reach the modes at 1e-4). No moving average of G: the lecture is about
what G itself does, collapse included.

Evaluation follows VEEGAN's protocol (``course_lib.metrics.coverage``): 2,500 samples from fixed
noise, modes captured and % high-quality, at the end and at ~25 points during training (the
samples are kept in ``trainer.snapshots`` as float points, so the curve survives a resume).

``toy_experiment`` and ``point_snapshots`` are shared with the WGAN recipe.
"""
from __future__ import annotations

from dataclasses import asdict
from typing import Callable

import torch

from ..data import toys
from ..evaluation import EVAL_NOISE_SEED, fixed_noise
from ..metrics.coverage import N_SAMPLES, mode_coverage
from ..models import mlp
from ..objectives import GANObjective
from ..registry import Experiment, dataset
from ..runtime import pick
from ..training import Trainer, TensorBatches, at_steps

TOY_DATA = ("ring8", "grid25")


def settings(budget_name: str) -> dict:
    return pick(
        smoke=dict(hidden=32, steps=200, batch_size=128, n_train=8192),
        cpu=dict(hidden=128, steps=3000, batch_size=256, n_train=50_000),
        gpu=dict(hidden=512, steps=20_000, batch_size=256, n_train=100_000),
        budget_name=budget_name,
    )


def coverage_steps(total: int, points: int = 25) -> list[int]:
    """~``points`` evenly spaced steps (and step 1) at which coverage is measured during training."""
    return sorted({1, total} | {max(1, round(total * i / points)) for i in range(1, points)})


def point_snapshots(z: torch.Tensor, steps) -> Callable:
    """Keep G's points for the fixed noise z at the given steps in ``trainer.snapshots`` (float, CPU).

    The 2-D counterpart of ``training.snapshot_callback`` (which stores uint8 images).
    """

    def take(tr: Trainer) -> None:
        tr.snapshots[tr.step] = tr.sample(z)  # (N, 2)

    return at_steps(steps, take)


def coverage_over_training(snapshots: dict, mixture: toys.Mixture) -> list[dict]:
    """[{'step', 'modes', 'high_quality'}] for each snapshot of 2-D points."""
    out = []
    for step in sorted(snapshots):
        c = mode_coverage(snapshots[step], mixture.centres, mixture.std)
        out.append({"step": step, "modes": c["modes"], "high_quality": c["high_quality"]})
    return out


def toy_experiment(model: str, data_name: str, budget_name: str, seed: int, device, n_steps: int, n_train: int,
                   cfg: mlp.MLPConfig, objective, make_opts: Callable, record: dict, **trainer_kwargs) -> Experiment:
    """Wire an MLP pair on a 2-D mixture into a Trainer, with coverage snapshots (shared by GAN and WGAN).

    ``make_opts(G, D)`` returns (opt_G, opt_D); ``record`` adds to the settings kept in checkpoints.
    """
    if data_name not in TOY_DATA:
        raise ValueError(f"{model} on the 2-D toys trains on {', '.join(TOY_DATA)}, not {data_name!r}.")
    data = dataset(data_name, n=n_train, seed=seed)
    torch.manual_seed(seed)  # layer initialisation
    G, D = mlp.build(cfg)
    opt_G, opt_D = make_opts(G, D)
    record = {"model": model, "arch": "mlp", "model_config": asdict(cfg), "data": data_name, "budget": budget_name,
              "seed": seed, "steps": n_steps, "n_train": n_train, "data_source": data.source, **record}
    trainer = Trainer(G, D, objective, opt_G, opt_D, TensorBatches(data.images, batch_size=cfg.batch_size),
                      z_dim=cfg.z_dim, device=device, seed=seed, config=record,
                      log_every=pick(smoke=1, cpu=10, gpu=25, budget_name=budget_name), **trainer_kwargs)
    z_eval = fixed_noise(N_SAMPLES, cfg.z_dim, EVAL_NOISE_SEED)
    trainer.callbacks.append(point_snapshots(z_eval, coverage_steps(n_steps)))
    # snapshot_steps stays empty: the command line's image snapshots do not apply to points
    return Experiment(model, data, budget_name, trainer, n_steps, record, [], evaluate=evaluate)


def setup(data_name: str, budget_name: str, seed: int, device=None, steps: int | None = None) -> Experiment:
    s = settings(budget_name)
    cfg = mlp.MLPConfig(hidden=s["hidden"], batch_size=s["batch_size"], lr=1e-3, betas=(0.5, 0.999))
    return toy_experiment("gan", data_name, budget_name, seed, device, steps or s["steps"], s["n_train"], cfg,
                          GANObjective(), lambda G, D: mlp.make_optimizers(G, D, cfg), {"loss": "non-saturating"})


def evaluate(exp: Experiment, progress: bool = True) -> dict:
    """Mode coverage (VEEGAN protocol) at the end and over training; written into metrics.json."""
    mix = toys.mixture(exp.data.name)
    z = fixed_noise(N_SAMPLES, exp.settings["model_config"]["z_dim"], EVAL_NOISE_SEED)
    final = mode_coverage(exp.trainer.sample(z), mix.centres, mix.std)
    return {
        "coverage": {**final, "protocol": "VEEGAN: 2,500 samples; high quality within 3 std of the nearest "
                     "mode; a mode is captured when it holds a high-quality sample", "std": mix.std},
        "coverage_over_training": coverage_over_training(exp.trainer.snapshots, mix),
    }


def build_generator(record: dict) -> mlp.Generator:
    return mlp.Generator(mlp.MLPConfig(**record["model_config"]))
