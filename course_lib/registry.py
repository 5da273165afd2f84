"""The names the command line and the notebooks use: datasets and model recipes.

A *recipe* (``course_lib/recipes/<family>.py``) turns (dataset name, budget, seed) into an
``Experiment``: networks, objective, optimizers and data wired into a ``Trainer``, the number of
steps, the settings stored in checkpoints and metrics.json, and how to evaluate the result. The
notebooks use the same recipes, so a lecture and ``python -m course_lib train`` at the same budget
run the same model. Modules are imported only when a name is used.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Callable

import torch
from torch import nn

from .data import DataSet
from .runtime import parse_budget
from .training import Trainer


@dataclass
class Experiment:
    model: str
    data: DataSet
    budget: str
    trainer: Trainer
    steps: int
    settings: dict  # everything needed to rebuild G (``generator_from_settings``) and to report
    snapshot_steps: list[int] = field(default_factory=list)
    evaluate: Callable[["Experiment", bool], dict] | None = None  # (experiment, progress) -> metrics


@dataclass(frozen=True)
class ModelEntry:
    module: str  # the recipe module; it defines build_generator(settings) for checkpoints
    data: tuple[str, ...]  # dataset names it trains on; the first is the default
    paper: str
    setup: str | None = "setup"  # (data, budget, seed, device, steps) -> Experiment, trained by the generic loop
    run: str | None = None  # or (data, budget, seed, out, steps, resume, progress) -> metrics, for own schedules


# name -> "module:function" returning a DataSet (keyword arguments chosen by the recipe)
DATASETS: dict[str, str] = {
    "anime": "course_lib.data.anime_dataset:anime_data",
    "ring8": "course_lib.data.toys:ring8",
    "grid25": "course_lib.data.toys:grid25",
    "mnist": "course_lib.data.digits:mnist",
    "painterly": "course_lib.data.painterly:photo_painting_crops",
}

PHOTO_NAMES = ("china", "coffee", "chelsea", "rocket", "motorcycle_left", "astronaut", "flower",
               "hubble_deep_field", "immunohistochemistry")

MODELS: dict[str, ModelEntry] = {
    "gan": ModelEntry("course_lib.recipes.gan2d", ("ring8", "grid25"), "Goodfellow et al. 2014"),
    "dcgan": ModelEntry("course_lib.recipes.dcgan", ("anime",), "Radford et al. 2016"),
    "cgan": ModelEntry("course_lib.recipes.cgan", ("mnist", "anime"), "Mirza & Osindero 2014"),
    "wgan": ModelEntry("course_lib.recipes.wgan", ("ring8", "grid25", "anime"), "Arjovsky et al. 2017",
                       setup="setup_clip"),
    "wgan-gp": ModelEntry("course_lib.recipes.wgan", ("ring8", "grid25", "anime"), "Gulrajani et al. 2017",
                          setup="setup_gp"),
    "siamese-hd": ModelEntry("course_lib.recipes.siamese_hd", ("painterly",), "Pasini 2019; Amodio & Krishnaswamy 2019",
                             setup=None, run="run"),
    "consingan": ModelEntry("course_lib.recipes.consingan", PHOTO_NAMES, "Hinz et al. 2021", setup=None, run="run"),
    "fast-style": ModelEntry("course_lib.recipes.perceptual", ("photos",), "Johnson et al. 2016",
                             setup=None, run="run_style"),
    "perceptual-sr": ModelEntry("course_lib.recipes.perceptual", ("photos",), "Johnson et al. 2016",
                                setup=None, run="run_sr"),
}


def _resolve(target: str) -> Callable:
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


def dataset(name: str, **kwargs) -> DataSet:
    if name not in DATASETS:
        raise ValueError(f"Unknown dataset {name!r}. Known datasets: {', '.join(sorted(DATASETS))}.")
    return _resolve(DATASETS[name])(**kwargs)


def experiment(model: str, data: str, budget_name: str | None = None, seed: int = 0, device=None,
               steps: int | None = None) -> Experiment:
    """Build a ready-to-train Experiment; unknown names get a message listing the known ones."""
    if model not in MODELS:
        raise ValueError(f"Unknown model {model!r}. Known models: {', '.join(sorted(MODELS))}.")
    entry = MODELS[model]
    if data not in entry.data:
        raise ValueError(f"Model {model!r} trains on {', '.join(entry.data)}, not {data!r}.")
    if steps is not None and steps < 1:
        raise ValueError(f"steps must be at least 1 (or None for the budget's own), got {steps}.")
    if entry.setup is None:
        raise ValueError(f"Model {model!r} has its own schedule: train it with `python -m course_lib train {model}`.")
    setup = getattr(recipe_module(model), entry.setup)
    return setup(data, parse_budget(budget_name), seed, device=device, steps=steps)


def recipe_module(name: str | None):
    if name not in MODELS:
        raise ValueError(f"Model {name!r} is not a registered model ({', '.join(sorted(MODELS))}).")
    return importlib.import_module(MODELS[name].module)


def generator_from_settings(settings: dict) -> nn.Module:
    """Rebuild an (untrained) generator from the settings stored in a checkpoint."""
    return recipe_module(settings.get("model")).build_generator(settings)


def untrained_generator(settings: dict) -> nn.Module:
    """The "untrained G" baseline, in eval mode: initialised from the run's own seed, on a forked RNG.

    Built on the global RNG as it happens to be, this baseline would change with whatever drew from it
    first (a metric network trained on a cold cache but loaded on a warm one, for instance).
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(settings.get("seed", 0)))
        return generator_from_settings(settings).eval()
