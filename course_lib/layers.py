"""Building blocks several model families share.

Each block is small and says where it comes from; a model file assembles them. Blocks used by one
family only stay in that family's file.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def norm_layer(kind: str, channels: int) -> nn.Module:
    """'batch' | 'instance' | 'none'. Instance norm has learnable scale and shift (affine), as in
    the style-transfer and CycleGAN generators; 'none' is for critics under a gradient penalty,
    where a per-batch statistic would couple the samples the penalty treats independently."""
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=True)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"Unknown norm {kind!r}; use 'batch', 'instance' or 'none'.")


class ConvNormAct(nn.Sequential):
    """Reflection-padded conv -> norm -> activation (padding by reflection avoids dark borders)."""

    def __init__(self, cin: int, cout: int, kernel: int = 3, stride: int = 1, norm: str = "instance",
                 act: nn.Module | None = None, reflect: bool = True) -> None:
        pad = kernel // 2
        layers: list[nn.Module] = []
        if reflect and pad:
            layers.append(nn.ReflectionPad2d(pad))
        layers += [nn.Conv2d(cin, cout, kernel, stride, 0 if reflect else pad, bias=norm == "none"),
                   norm_layer(norm, cout)]
        if act is not None:
            layers.append(act)
        super().__init__(*layers)


class ResidualBlock(nn.Module):
    """x + F(x) with F = conv-norm-ReLU-conv-norm, 3x3, same channels (He et al. 2016; the block of
    Johnson et al. 2016's transform net and of CycleGAN's generator)."""

    def __init__(self, channels: int, norm: str = "instance") -> None:
        super().__init__()
        self.body = nn.Sequential(
            ConvNormAct(channels, channels, 3, norm=norm, act=nn.ReLU(True)),
            ConvNormAct(channels, channels, 3, norm=norm, act=None),
        )

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


class MinibatchStd(nn.Module):
    """Appends one channel holding how much the samples of a group differ (Karras et al., "Progressive
    Growing of GANs", ICLR 2018, sec. 3).

    The per-feature standard deviation over the group, averaged over features and positions, is one
    number per group, broadcast as a constant map to each of the group's samples. A generator that
    draws the same face again and again gives D a telltale low value, so D can punish the lack of
    variety that a per-sample D cannot see. ``group_size`` samples form a group (ProGAN: 4); None
    uses the whole batch. A batch that the group size does not divide falls back to one group.
    """

    def __init__(self, group_size: int | None = 4) -> None:
        super().__init__()
        if group_size is not None and group_size < 2:
            raise ValueError(f"group_size must be at least 2 (or None for the whole batch), got {group_size}.")
        self.group_size = group_size

    def forward(self, x: Tensor) -> Tensor:
        n = x.shape[0]
        g = n if self.group_size is None or n % self.group_size else self.group_size
        # Features flattened in channels-last order (free for a channels_last x; the mean over them does
        # not care about order), in float32: under bf16 autocast a variance of small differences loses
        # its digits. Sample i lies in group i % (n // g). The variance is written out rather than
        # Tensor.var, whose double backward (R1 differentiates D's gradient) took twice as long on a CPU.
        groups = x.permute(0, 2, 3, 1).reshape(g, n // g, -1).float()
        centred = groups - groups.mean(0)
        std = (centred.square().mean(0) + 1e-8).sqrt().mean(1)  # (n // g,)
        channel = std.repeat(g).to(x.dtype).view(n, 1, 1, 1).expand(n, 1, *x.shape[2:])
        return torch.cat([x, channel], 1)


_LUMA = (0.299, 0.587, 0.114)  # Rec. 601


def luminance(x: Tensor) -> Tensor:
    """Rec. 601 luma of (N, 3, H, W) images (any range): (N, 1, H, W)."""
    w = torch.tensor(_LUMA, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    return (x * w).sum(1, keepdim=True)  # (N, 1, H, W)


def check_odd_window(width: int, what: str) -> None:
    """A sliding window centred on its pixel needs an odd side of at least 1; say so, naming ``what``."""
    if width < 1 or width % 2 == 0:
        raise ValueError(f"{what} needs an odd width of at least 1 (a centred window), got {width}.")


def pad_to_multiple(x: Tensor, multiple: int, minimum: int = 0) -> tuple[Tensor, tuple[int, int]]:
    """Pad (N, C, H, W) at the bottom and right up to multiples of ``multiple`` (and at least ``minimum``
    per side); returns (padded, (H, W)).

    Reflect padding where the image is larger than the pad (reflection needs pad < side), replicate
    otherwise (e.g. an image smaller than one tile): never a crash, and the content is mirrored, not
    zeros, so G sees no artificial black frame.
    """
    h, w = x.shape[-2:]

    def target(side: int) -> int:
        side = max(side, minimum)
        return side + (-side) % multiple

    ph, pw = target(h) - h, target(w) - w
    if ph == 0 and pw == 0:
        return x, (h, w)
    mode = "reflect" if ph < h and pw < w else "replicate"
    return F.pad(x, (0, pw, 0, ph), mode=mode), (h, w)


def adam_pair(G: nn.Module, D: nn.Module, cfg) -> tuple[torch.optim.Adam, torch.optim.Adam]:
    """One Adam for G and one for D, both with ``cfg.lr`` and ``cfg.betas`` (every model family whose
    paper trains both players with the same Adam settings exposes this as its ``make_optimizers``)."""
    return (torch.optim.Adam(G.parameters(), lr=cfg.lr, betas=cfg.betas),
            torch.optim.Adam(D.parameters(), lr=cfg.lr, betas=cfg.betas))
