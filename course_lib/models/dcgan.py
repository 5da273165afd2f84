"""DCGAN: Radford, Metz & Chintala, "Unsupervised Representation Learning with Deep Convolutional
Generative Adversarial Networks", ICLR 2016 (arXiv:1511.06434).

The architecture rules of the paper, each visible below:
  * strided convolutions (D) and transposed convolutions (G) instead of pooling;
  * batch norm in both nets, except G's output layer and D's input layer;
  * no fully connected hidden layers: z is reshaped to (B, z_dim, 1, 1) and grown by convolutions;
  * ReLU in G with tanh at the output (images in [-1, 1]); LeakyReLU(0.2) in D;
  * weights from N(0, 0.02), batch-norm scales from N(1, 0.02).

The classic 64x64 pair has G: z -> 4x4x512 -> 8x8x256 -> 16x16x128 -> 32x32x64 -> 64x64x3. Here the
widths are ``width * 2^k`` and the depth follows the image size, so the same code gives the paper's
64x64 net (width 64) and the course's cpu-budget 32x32 net (width 32, about 1/10 of the compute).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from torch import Tensor, nn

from ..layers import MinibatchStd, adam_pair, norm_layer


@dataclass
class DCGANConfig:
    image_size: int = 64  # a power of two >= 8; the paper's is 64
    z_dim: int = 100  # paper: 100, uniform noise; the course draws z ~ N(0, I) as HW6 does
    g_width: int = 64  # channels of G's last hidden layer (the paper's 128 at 64x64 -> 64 in common ports)
    d_width: int = 64  # channels of D's first layer
    channels: int = 3
    lr: float = 2e-4  # Adam, paper
    betas: tuple[float, float] = (0.5, 0.999)  # paper: beta1 0.5 (0.9 oscillated)
    batch_size: int = 64  # paper: 128; 64 in common ports and in HW6
    # D's hidden normalisation: the paper's batch norm, or 'instance' / 'none' for a WGAN-GP critic
    # (a penalty on each sample's gradient must not see other samples through batch statistics).
    d_norm: str = "batch"
    # Not in the paper: ProGAN's minibatch standard deviation (Karras et al. 2018) as one more channel
    # before D's last convolution, over groups of this many samples; 0 leaves it out (the paper's D).
    mbstd_group: int = 0

    def __post_init__(self) -> None:
        if self.image_size < 8 or self.image_size & (self.image_size - 1):
            raise ValueError(f"image_size must be a power of two >= 8, got {self.image_size}.")
        if self.d_norm not in ("batch", "instance", "none"):
            raise ValueError(f"d_norm must be 'batch', 'instance' or 'none', got {self.d_norm!r}.")
        if self.mbstd_group == 1 or self.mbstd_group < 0:
            raise ValueError(f"mbstd_group must be 0 (no minibatch-std channel) or a group of at least 2 samples, "
                             f"got {self.mbstd_group}.")

    @property
    def n_up(self) -> int:
        """Number of stride-2 layers between 4x4 and the image size."""
        return int(math.log2(self.image_size)) - 2


def init_dcgan_weights(module: nn.Module) -> None:
    """N(0, 0.02) for conv weights, N(1, 0.02) for batch-norm scales, zero biases (paper, sec. 4)."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


class Generator(nn.Module):
    """z (B, z_dim) -> image (B, channels, S, S) in [-1, 1]."""

    def __init__(self, cfg: DCGANConfig) -> None:
        super().__init__()
        self.cfg = cfg
        c = cfg.g_width * 2 ** (cfg.n_up - 1)  # e.g. 512 at 64x64 with width 64
        layers: list[nn.Module] = [
            # project and reshape: a 4x4 "fully convolutional" start, no FC hidden layer
            nn.ConvTranspose2d(cfg.z_dim, c, 4, 1, 0, bias=False),  # (B, c, 4, 4)
            nn.BatchNorm2d(c),
            nn.ReLU(True),
        ]
        for _ in range(cfg.n_up - 1):
            layers += [
                nn.ConvTranspose2d(c, c // 2, 4, 2, 1, bias=False),  # doubles H and W, halves channels
                nn.BatchNorm2d(c // 2),
                nn.ReLU(True),
            ]
            c //= 2
        layers += [nn.ConvTranspose2d(c, cfg.channels, 4, 2, 1), nn.Tanh()]  # no BN at the output
        self.net = nn.Sequential(*layers)
        self.apply(init_dcgan_weights)

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z.view(z.shape[0], -1, 1, 1))


class Discriminator(nn.Module):
    """image (B, channels, S, S) -> one logit per image (B,); higher means 'looks real'."""

    def __init__(self, cfg: DCGANConfig) -> None:
        super().__init__()
        self.cfg = cfg
        c = cfg.d_width
        layers: list[nn.Module] = [
            nn.Conv2d(cfg.channels, c, 4, 2, 1),  # no BN at the input layer
            nn.LeakyReLU(0.2, True),
        ]
        for _ in range(cfg.n_up - 1):
            # a conv followed by a norm needs no bias (the norm's shift replaces it); without a norm it does
            layers += [nn.Conv2d(c, c * 2, 4, 2, 1, bias=cfg.d_norm == "none"), norm_layer(cfg.d_norm, c * 2),
                       nn.LeakyReLU(0.2, True)]
            c *= 2
        if cfg.mbstd_group:  # D sees how much the samples of a group differ: a collapsed G shows up
            layers += [MinibatchStd(cfg.mbstd_group)]
            c += 1  # the channel it appends
        layers += [nn.Conv2d(c, 1, 4, 1, 0)]  # (B, 1, 1, 1): a 4x4 conv instead of an FC layer
        self.net = nn.Sequential(*layers)
        self.apply(init_dcgan_weights)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x).flatten()


def build(cfg: DCGANConfig) -> tuple[Generator, Discriminator]:
    return Generator(cfg), Discriminator(cfg)


make_optimizers = adam_pair  # Adam(cfg.lr, cfg.betas) for G and for D
