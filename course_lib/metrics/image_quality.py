"""Full-reference image quality for super-resolution: PSNR, SSIM, and high-frequency energy.

Conventions of the SR literature, used throughout: images are compared on their luminance Y (ITU-R
BT.601, as in MATLAB's rgb2ycbcr, in [0, 1]) with a border of ``crop`` pixels (the scale factor)
removed, because the border of an upsampled image depends on the padding rule more than on the method.

* PSNR = 10 log10(1 / MSE) on [0, 1] images: higher is closer, pixel by pixel.
* SSIM (Wang et al. 2004) via ``skimage.metrics.structural_similarity`` with the paper's Gaussian
  window (sigma 1.5) and constants: local means, contrasts and correlation.
* High-frequency energy: the mean square of a discrete Laplacian of Y. A blurry image has little of
  it; a sharp one about as much as the ground truth; ringing or noise more. Johnson et al.'s point
  is that a feature-loss model scores lower PSNR than a pixel-loss model yet looks sharper: this
  number makes "sharper" measurable (compare each method's value with the ground truth's).

Inputs are course images: (3, H, W) or (B, 3, H, W) tensors in [-1, 1] (clamped before measuring).
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

_Y_WEIGHTS = (65.481, 128.553, 24.966)  # BT.601 on [0, 1] RGB, giving Y in [16, 235] / 255


def luminance(images: Tensor) -> Tensor:
    """[-1, 1] RGB (B, 3, H, W) or (3, H, W) -> Y in [0, 1], shaped (B, H, W) (BT.601, studio swing)."""
    x = images if images.dim() == 4 else images.unsqueeze(0)
    if x.shape[1] != 3:
        raise ValueError(f"Expected RGB images (B, 3, H, W), got {tuple(images.shape)}.")
    rgb = (x.detach().float().clamp(-1, 1) + 1) / 2
    w = torch.tensor(_Y_WEIGHTS, device=rgb.device).view(1, 3, 1, 1)
    return ((rgb * w).sum(1) + 16.0) / 255.0


def _pair(a: Tensor, b: Tensor, crop: int) -> tuple[Tensor, Tensor]:
    if a.shape != b.shape:
        raise ValueError(f"Images to compare must have the same shape, got {tuple(a.shape)} and {tuple(b.shape)}.")
    ya, yb = luminance(a), luminance(b)
    if crop:
        if min(ya.shape[-2:]) <= 2 * crop:
            raise ValueError(f"Images of {tuple(ya.shape[-2:])} are too small for a border crop of {crop}.")
        ya, yb = ya[..., crop:-crop, crop:-crop], yb[..., crop:-crop, crop:-crop]
    return ya, yb


def psnr(image: Tensor, reference: Tensor, crop: int = 0) -> float:
    """PSNR in dB on Y, averaged over a batch (each image's own PSNR, then the mean)."""
    ya, yb = _pair(image, reference, crop)
    mse = (ya - yb).pow(2).flatten(1).mean(1).clamp_min(1e-12)
    return float((10 * torch.log10(1.0 / mse)).mean())


def ssim(image: Tensor, reference: Tensor, crop: int = 0) -> float:
    """SSIM on Y (Gaussian window, sigma 1.5, as Wang et al. 2004), averaged over a batch."""
    from skimage.metrics import structural_similarity

    ya, yb = _pair(image, reference, crop)
    return float(np.mean([
        structural_similarity(a.cpu().numpy(), b.cpu().numpy(), data_range=1.0, gaussian_weights=True,
                              sigma=1.5, use_sample_covariance=False)
        for a, b in zip(ya, yb)
    ]))


def laplacian_energy(images: Tensor, crop: int = 0) -> float:
    """Mean squared response of the 4-neighbour Laplacian on Y (valid pixels only), batch-averaged."""
    y = luminance(images).unsqueeze(1)  # (B, 1, H, W)
    if crop:
        y = y[..., crop:-crop, crop:-crop]
    kernel = torch.tensor([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]], device=y.device).view(1, 1, 3, 3)
    return float(F.conv2d(y, kernel).pow(2).mean())
