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
    recipe: str  # module with setup(data, budget, seed, device, steps) and build_generator(settings)
    data: tuple[str, ...]
    paper: str


# name -> "module:function" returning a DataSet (keyword arguments chosen by the recipe)
DATASETS: dict[str, str] = {
    "anime": "course_lib.data.anime_dataset:anime_data",
}

MODELS: dict[str, ModelEntry] = {
    "dcgan": ModelEntry("course_lib.recipes.dcgan", ("anime",), "Radford et al. 2016"),
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
    recipe = importlib.import_module(entry.recipe)
    return recipe.setup(data, parse_budget(budget_name), seed, device=device, steps=steps)


def generator_from_settings(settings: dict) -> nn.Module:
    """Rebuild an (untrained) generator from the settings stored in a checkpoint."""
    name = settings.get("model")
    if name not in MODELS:
        raise ValueError(f"This checkpoint's model {name!r} is not a registered model ({', '.join(sorted(MODELS))}).")
    return importlib.import_module(MODELS[name].recipe).build_generator(settings)
