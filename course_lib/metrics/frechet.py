"""The Frechet distance between two Gaussians fitted to feature sets (Heusel et al. 2017, FID).

    FD = ||mu_1 - mu_2||^2 + Tr(S_1 + S_2 - 2 (S_1 S_2)^(1/2))

The feature network is the caller's choice (face-feature net, digit classifier, Inception); every
reported number says which one and how many samples, because FD depends on both.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy import linalg


@dataclass(frozen=True)
class GaussianStats:
    """Mean and covariance of a feature set, plus how many samples made them."""

    mu: np.ndarray  # (F,)
    sigma: np.ndarray  # (F, F)
    n: int

    def to_dict(self) -> dict:
        return {"mu": torch.from_numpy(self.mu), "sigma": torch.from_numpy(self.sigma), "n": self.n}

    @classmethod
    def from_dict(cls, d: dict) -> "GaussianStats":
        return cls(np.asarray(d["mu"], dtype=np.float64), np.asarray(d["sigma"], dtype=np.float64), int(d["n"]))


def gaussian_stats(features: torch.Tensor | np.ndarray) -> GaussianStats:
    """Fit a Gaussian to (N, F) features, in float64."""
    x = features.detach().cpu().double().numpy() if isinstance(features, torch.Tensor) else np.asarray(features, np.float64)
    if x.ndim != 2 or x.shape[0] < 2:
        raise ValueError(f"Expected features shaped (N, F) with N >= 2, got {x.shape}.")
    return GaussianStats(x.mean(axis=0), np.cov(x, rowvar=False), x.shape[0])


def frechet_distance(a: GaussianStats, b: GaussianStats) -> float:
    """FD between two fitted Gaussians; the matrix square root is taken with scipy's sqrtm."""
    diff = a.mu - b.mu
    covmean, _ = linalg.sqrtm(a.sigma @ b.sigma, disp=False)
    if not np.isfinite(covmean).all():
        # Nearly singular product: nudge both diagonals, as is standard for FID.
        eps = np.eye(a.sigma.shape[0]) * 1e-6
        covmean = linalg.sqrtm((a.sigma + eps) @ (b.sigma + eps))
    covmean = covmean.real  # sqrtm may leave tiny imaginary parts from round-off
    return float(diff @ diff + np.trace(a.sigma) + np.trace(b.sigma) - 2.0 * np.trace(covmean))


def frechet_distance_features(x: torch.Tensor, y: torch.Tensor) -> float:
    """FD between two (N, F) feature sets."""
    return frechet_distance(gaussian_stats(x), gaussian_stats(y))
