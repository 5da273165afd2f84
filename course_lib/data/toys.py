"""The 2-D benchmarks of mode collapse: a ring of 8 and a grid of 25 Gaussians.

Both are mixtures of equally weighted isotropic Gaussians whose centres and spread are known
exactly, so a generator's samples can be scored mode by mode (``course_lib.metrics.coverage``):

* ``ring8``: 8 modes evenly spaced on a circle of radius 2, std 0.02 (VEEGAN, Srivastava et al.
  2017; the WGAN-GP authors' toy script uses the same ring);
* ``grid25``: 25 modes centred on {-4, -2, 0, 2, 4}^2, std 0.05 (VEEGAN; PacGAN, Lin et al. 2018).

Points are drawn with a seeded torch generator, so a set is the same on every machine.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from . import DataSet


@dataclass(frozen=True)
class Mixture:
    """An equal-weight mixture of isotropic Gaussians in the plane."""

    name: str
    centres: Tensor  # (K, 2)
    std: float

    @property
    def n_modes(self) -> int:
        return len(self.centres)

    def sample(self, n: int, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
        """n points (n, 2) and the index of the mode each was drawn from (n,)."""
        if n < 1:
            raise ValueError(f"n must be a positive number of points, got {n}.")
        mode = torch.randint(0, self.n_modes, (n,), generator=generator)
        points = self.centres[mode] + self.std * torch.randn(n, 2, generator=generator)
        return points, mode

    def extent(self, margin: float = 1.0) -> tuple[float, float, float, float]:
        """(xmin, xmax, ymin, ymax) around the centres, for plots and decision surfaces."""
        lo, hi = self.centres.min(0).values - margin, self.centres.max(0).values + margin
        return (float(lo[0]), float(hi[0]), float(lo[1]), float(hi[1]))


def ring_centres(n_modes: int = 8, radius: float = 2.0) -> Tensor:
    """Centres evenly spaced on a circle, the first on the positive x axis."""
    angles = torch.arange(n_modes, dtype=torch.float64) * (2 * math.pi / n_modes)
    return (radius * torch.stack([angles.cos(), angles.sin()], 1)).float()  # (K, 2)


def grid_centres(values: tuple[float, ...] = (-4.0, -2.0, 0.0, 2.0, 4.0)) -> Tensor:
    """Centres on the grid values x values, row by row (y outer, x inner)."""
    v = torch.tensor(values)
    ys, xs = torch.meshgrid(v, v, indexing="ij")
    return torch.stack([xs.flatten(), ys.flatten()], 1)  # (K, 2)


RING8 = Mixture("ring8", ring_centres(8, 2.0), 0.02)
GRID25 = Mixture("grid25", grid_centres(), 0.05)
MIXTURES = {"ring8": RING8, "grid25": GRID25}


def mixture(name: str) -> Mixture:
    if name not in MIXTURES:
        raise ValueError(f"Unknown 2-D mixture {name!r}; use one of {', '.join(MIXTURES)}.")
    return MIXTURES[name]


def _dataset(mix: Mixture, n: int, seed: int) -> DataSet:
    points, modes = mix.sample(n, torch.Generator().manual_seed(seed))
    source = f"{mix.name}: {mix.n_modes} Gaussians, std {mix.std:g} ({n:,} points, seed {seed})"
    return DataSet(mix.name, points, modes, source, True)


def ring8(n: int = 50_000, seed: int = 0) -> DataSet:
    """8 Gaussians on a circle of radius 2, std 0.02: points (n, 2), labels = mode index."""
    return _dataset(RING8, n, seed)


def grid25(n: int = 50_000, seed: int = 0) -> DataSet:
    """25 Gaussians on {-4, -2, 0, 2, 4}^2, std 0.05: points (n, 2), labels = mode index."""
    return _dataset(GRID25, n, seed)
