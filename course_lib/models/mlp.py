"""Multilayer perceptrons for the 2-D toy mixtures: a generator and a discriminator (or critic).

The original GAN (Goodfellow et al., "Generative Adversarial Nets", NeurIPS 2014) used MLPs for G
and D; the 2-D mixtures as a test of mode collapse come from Metz et al. 2017 (Unrolled GANs) and
Srivastava et al. 2017 (VEEGAN). The sizes here are those of the WGAN-GP authors' toy script
(Gulrajani et al., "Improved Training of Wasserstein GANs", NeurIPS 2017): 3 hidden layers of 512
ReLU units in both nets, 2-D noise, batch 256.

Small scale: the recipes use width 512 at the gpu budget, 128 at cpu (about 1/16 of the
multiply-adds, so thousands of updates take a minute on 2 cores) and 32 at smoke. A 2-D mixture
of 8 or 25 modes is easy for a 128-wide net; the lesson (collapse, coverage) does not need 512.
"""
from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor, nn

from ..layers import adam_pair


@dataclass
class MLPConfig:
    z_dim: int = 2  # WGAN-GP toy script: 2-D Gaussian noise
    hidden: int = 512  # WGAN-GP toy script: 512 (recipes: 128 at cpu, 32 at smoke)
    depth: int = 3  # hidden layers in each net, WGAN-GP toy script: 3
    data_dim: int = 2
    lr: float = 1e-4  # Adam; WGAN-GP toy script: 1e-4
    betas: tuple[float, float] = (0.5, 0.9)  # WGAN-GP toy script: (0.5, 0.9)
    batch_size: int = 256  # WGAN-GP toy script: 256

    def __post_init__(self) -> None:
        if self.hidden < 1 or self.depth < 1 or self.z_dim < 1:
            raise ValueError(f"hidden, depth and z_dim must be positive, got {self.hidden}, {self.depth}, {self.z_dim}.")


def _mlp(d_in: int, hidden: int, depth: int, d_out: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(depth):
        layers += [nn.Linear(d_in if i == 0 else hidden, hidden), nn.ReLU(True)]
    layers.append(nn.Linear(hidden, d_out))  # no activation: G outputs points in R^2, D a logit
    return nn.Sequential(*layers)


class Generator(nn.Module):
    """z (B, z_dim) -> point (B, 2)."""

    def __init__(self, cfg: MLPConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.net = _mlp(cfg.z_dim, cfg.hidden, cfg.depth, cfg.data_dim)

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z)


class Discriminator(nn.Module):
    """point (B, 2) -> one score per point (B,): a logit for the GAN, a critic value for WGAN."""

    def __init__(self, cfg: MLPConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.net = _mlp(cfg.data_dim, cfg.hidden, cfg.depth, 1)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x).flatten()


def build(cfg: MLPConfig) -> tuple[Generator, Discriminator]:
    return Generator(cfg), Discriminator(cfg)


def linear_layers(net: nn.Module) -> list[tuple[str, nn.Linear]]:
    """The Linear layers in order, named 'layer 1', 'layer 2', ... (for per-layer plots)."""
    return [(f"layer {i + 1}", m) for i, m in enumerate(m for m in net.modules() if isinstance(m, nn.Linear))]


make_optimizers = adam_pair  # Adam(cfg.lr, cfg.betas) for G and for D
