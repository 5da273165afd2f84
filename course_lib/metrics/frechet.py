"""The Frechet distance between two Gaussians fitted to feature sets (Heusel et al. 2017, FID).

    FD = ||mu_1 - mu_2||^2 + Tr(S_1 + S_2 - 2 (S_1 S_2)^(1/2))

The feature network is the caller's choice (face-feature net, digit classifier, Inception); every
reported number says which one and how many samples, because FD depends on both.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


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
    return GaussianStats(x.mean(axis=0), np.atleast_2d(np.cov(x, rowvar=False)), x.shape[0])


def trace_sqrt_product(s1: np.ndarray, s2: np.ndarray) -> float:
    """Tr((S_1 S_2)^(1/2)) for symmetric positive semi-definite S_1, S_2.

    S_1 S_2 is not symmetric, but it has the same eigenvalues as the symmetric matrix
    S_1^(1/2) S_2 S_1^(1/2); two symmetric eigendecompositions are exact and several times faster
    than a general matrix square root at 2048 dimensions (FID's size).
    """
    w, v = np.linalg.eigh(s1)
    s1_half = (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T
    m = s1_half @ s2 @ s1_half
    eig = np.linalg.eigvalsh((m + m.T) / 2.0)  # symmetrise away round-off
    return float(np.sqrt(np.clip(eig, 0.0, None)).sum())


def frechet_distance(a: GaussianStats, b: GaussianStats) -> float:
    """FD between two fitted Gaussians."""
    if a.mu.shape != b.mu.shape:
        raise ValueError(f"The two feature sets have different sizes ({a.mu.shape[0]} vs {b.mu.shape[0]}): "
                         "were they made by different feature networks?")
    diff = a.mu - b.mu
    return float(diff @ diff + np.trace(a.sigma) + np.trace(b.sigma) - 2.0 * trace_sqrt_product(a.sigma, b.sigma))


def frechet_distance_features(x: torch.Tensor, y: torch.Tensor) -> float:
    """FD between two (N, F) feature sets."""
    return frechet_distance(gaussian_stats(x), gaussian_stats(y))
