"""Datasets of the course: procedural anime faces, real image folders, 2-D toys, digits, photos."""
from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor


@dataclass
class DataSet:
    """A training set as the recipes and the command line see it."""

    name: str
    images: Tensor  # (N, C, H, W) in [-1, 1], or (N, 2) points for the 2-D toys
    labels: dict[str, Tensor] | Tensor | None  # known attributes, class labels, or None
    source: str  # what a figure or metrics.json says about where the data came from
    procedural: bool  # True when the data's generating process is known exactly
