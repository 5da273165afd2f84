"""Image transformation networks of Johnson, Alahi & Fei-Fei, "Perceptual Losses for Real-Time Style
Transfer and Super-Resolution", ECCV 2016 (arXiv:1603.08155), with the supplementary material's
architectures.

Style transfer (``TransformNet``), for a (B, 3, H, W) image in [-1, 1]::

    9x9 conv 32                    (B, 32, H, W)
    3x3 conv 64, stride 2          (B, 64, H/2, W/2)
    3x3 conv 128, stride 2         (B, 128, H/4, W/4)
    5 residual blocks, 128         (B, 128, H/4, W/4)     most of the compute, at 1/16 of the pixels
    3x3 conv 64, stride 1/2        (B, 64, H/2, W/2)      "fractionally strided" = transposed conv
    3x3 conv 32, stride 1/2        (B, 32, H, W)
    9x9 conv 3, scaled tanh        (B, 3, H, W)

Every conv but the last is followed by a norm and a ReLU. The paper uses batch norm; instance norm
(Ulyanov et al. 2016), used by the authors' later code, is the default here because it removes each
image's contrast before stylising and trains faster. Padding is by reflection and the residual blocks
are padded (the paper crops unpadded blocks instead), so any input size works: ``forward`` reflect-pads
H and W up to a multiple of 4 (the two stride-2 convs) and crops the result back.

``upsample="nearest"`` replaces each transposed conv by nearest-neighbour x2 upsampling followed by a
3x3 conv (Odena, Dumoulin & Olah, "Deconvolution and Checkerboard Artifacts", Distill 2016): a 3x3
stride-2 transposed conv covers odd output pixels with one kernel tap and even ones with two, so it
paints a checkerboard unless training learns to cancel it; resize-then-conv covers every pixel alike.

Super-resolution (``SRNet``), for a (B, 3, h, w) low-resolution image: 9x9 conv 64, 4 residual blocks
(64), log2(factor) upsampling blocks (x4: 2, x8: 3), 9x9 conv 3 (the paper's SR net). Departing from the
paper, the net predicts a *residual* added to the bicubic upsample of its input (as later SR nets do):
it starts as bicubic exactly (last conv zero-initialised) and only learns the missing detail, which
makes the short CPU runs of the course meaningful.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from course_lib.layers import ConvNormAct, ResidualBlock, norm_layer, pad_to_multiple

UPSAMPLE_KINDS = ("transpose", "nearest")


@dataclass
class TransformNetConfig:
    """Johnson et al.'s style-transfer net. Defaults are the paper's except ``norm`` (see the module
    docstring). The course's cpu budget trains the same net (width 32) on 128-px crops."""

    width: int = 32  # channels of the first and last hidden layers; the middle has 4x (paper: 32/64/128)
    n_res: int = 5  # residual blocks (paper: 5)
    norm: str = "instance"  # "instance" (authors' later code) | "batch" (paper) | "none"
    upsample: str = "transpose"  # "transpose" (paper: stride-1/2 convs) | "nearest" (resize + conv)
    tanh_scale: float = 1.0  # output = scale * tanh(h): the paper's scaled tanh mapped to [-1, 1] images

    def __post_init__(self) -> None:
        if self.upsample not in UPSAMPLE_KINDS:
            raise ValueError(f"upsample must be one of {UPSAMPLE_KINDS}, got {self.upsample!r}.")
        norm_layer(self.norm, 1)  # validates the name
        if self.width < 1 or self.n_res < 0:
            raise ValueError(f"width must be >= 1 and n_res >= 0, got {self.width} and {self.n_res}.")


def up_block(cin: int, cout: int, kind: str, norm: str) -> nn.Sequential:
    """Double H and W: a 3x3 stride-1/2 (transposed) conv, or nearest x2 then a 3x3 conv; norm, ReLU."""
    if kind == "transpose":
        # padding 1 + output_padding 1: exactly 2x the size, as a stride-2 conv's inverse
        conv = nn.ConvTranspose2d(cin, cout, 3, stride=2, padding=1, output_padding=1, bias=norm == "none")
        return nn.Sequential(conv, norm_layer(norm, cout), nn.ReLU(True))
    if kind == "nearest":
        return nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"),
                             ConvNormAct(cin, cout, 3, norm=norm, act=nn.ReLU(True)))
    raise ValueError(f"Unknown upsampling {kind!r}; use one of {UPSAMPLE_KINDS}.")


class TransformNet(nn.Module):
    """(B, 3, H, W) image in [-1, 1], any H, W >= 5 -> stylised (B, 3, H, W) in [-scale, scale]."""

    MIN_SIZE = 5  # reflection padding needs more pixels than it pads (9x9 conv after padding to 8)

    def __init__(self, cfg: TransformNetConfig | None = None) -> None:
        super().__init__()
        self.cfg = cfg = cfg or TransformNetConfig()
        w, relu = cfg.width, (lambda: nn.ReLU(True))
        self.down = nn.Sequential(
            ConvNormAct(3, w, 9, norm=cfg.norm, act=relu()),  # (B, 32, H, W)
            ConvNormAct(w, 2 * w, 3, stride=2, norm=cfg.norm, act=relu()),  # (B, 64, H/2, W/2)
            ConvNormAct(2 * w, 4 * w, 3, stride=2, norm=cfg.norm, act=relu()),  # (B, 128, H/4, W/4)
        )
        self.res = nn.Sequential(*[ResidualBlock(4 * w, norm=cfg.norm) for _ in range(cfg.n_res)])
        self.up = nn.Sequential(
            up_block(4 * w, 2 * w, cfg.upsample, cfg.norm),  # (B, 64, H/2, W/2)
            up_block(2 * w, w, cfg.upsample, cfg.norm),  # (B, 32, H, W)
        )
        self.out = ConvNormAct(w, 3, 9, norm="none")  # (B, 3, H, W), with bias, no norm

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != 4 or x.shape[1] != 3:
            raise ValueError(f"TransformNet takes RGB images shaped (B, 3, H, W), got {tuple(x.shape)}.")
        if min(x.shape[-2:]) < self.MIN_SIZE:
            raise ValueError(f"Images must be at least {self.MIN_SIZE}x{self.MIN_SIZE}, got {tuple(x.shape[-2:])}.")
        x, (h, w) = pad_to_multiple(x, 4)  # two stride-2 convs: 4 | H and 4 | W gives back the same size
        y = self.out(self.up(self.res(self.down(x))))
        return (self.cfg.tanh_scale * torch.tanh(y))[..., :h, :w]


@dataclass
class SRNetConfig:
    """Johnson et al.'s super-resolution net (supplementary material), predicting a residual over
    bicubic. ``norm`` defaults to none: with the bicubic skip the net need not renormalise intensities,
    and batch statistics of small CPU batches made the short runs noisier (paper: batch norm)."""

    factor: int = 4  # x4 or x8 (paper: both)
    width: int = 64  # paper: 64 throughout
    n_res: int = 4  # paper: 4 residual blocks
    norm: str = "none"  # paper: "batch"
    upsample: str = "transpose"  # paper: fractionally strided convs; "nearest" avoids checkerboards

    def __post_init__(self) -> None:
        if self.factor < 2 or self.factor & (self.factor - 1):
            raise ValueError(f"factor must be a power of two >= 2 (4 or 8 in the paper), got {self.factor}.")
        if self.upsample not in UPSAMPLE_KINDS:
            raise ValueError(f"upsample must be one of {UPSAMPLE_KINDS}, got {self.upsample!r}.")
        norm_layer(self.norm, 1)


class SRNet(nn.Module):
    """(B, 3, h, w) low-resolution image in [-1, 1] -> (B, 3, h*f, w*f) = bicubic(x) + residual."""

    MIN_SIZE = 5

    def __init__(self, cfg: SRNetConfig | None = None) -> None:
        super().__init__()
        self.cfg = cfg = cfg or SRNetConfig()
        w = cfg.width
        self.head = ConvNormAct(3, w, 9, norm=cfg.norm, act=nn.ReLU(True))  # (B, 64, h, w)
        self.res = nn.Sequential(*[ResidualBlock(w, norm=cfg.norm) for _ in range(cfg.n_res)])
        self.up = nn.Sequential(*[up_block(w, w, cfg.upsample, cfg.norm)
                                  for _ in range(int(math.log2(cfg.factor)))])  # (B, 64, h*f, w*f)
        self.out = ConvNormAct(w, 3, 9, norm="none")  # (B, 3, h*f, w*f): the residual
        conv = next(m for m in self.out if isinstance(m, nn.Conv2d))
        nn.init.zeros_(conv.weight)  # start exactly at bicubic
        nn.init.zeros_(conv.bias)

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != 4 or x.shape[1] != 3:
            raise ValueError(f"SRNet takes RGB images shaped (B, 3, h, w), got {tuple(x.shape)}.")
        if min(x.shape[-2:]) < self.MIN_SIZE:
            raise ValueError(f"Low-resolution images must be at least {self.MIN_SIZE} px per side, got {tuple(x.shape[-2:])}.")
        base = bicubic_upsample(x, self.cfg.factor)
        return base + self.out(self.up(self.res(self.head(x))))


def bicubic_upsample(x: Tensor, factor: int) -> Tensor:
    """The baseline every SR model is measured against (and the base the SR net adds its residual to)."""
    return F.interpolate(x, scale_factor=factor, mode="bicubic", align_corners=False)


def n_params(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())
