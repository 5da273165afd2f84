"""Measuring a GAN trained on one image: is a sample locally faithful, and is it new?

* **SIFID** (Shaham et al. 2019, SinGAN): the Frechet distance between the Gaussians of the real
  image's and a sample's early Inception features, each spatial position one sample (see
  ``course_lib.metrics.inception.sifid`` for the layer: ``conv_2``, 64 channels, as SinGAN's code).
  0 for the photo itself; it grows when textures or colours are wrong, and it hardly notices a new
  layout. Averaged over samples.
* **Diversity** (SinGAN, ConSinGAN): the standard deviation of each pixel over N samples, averaged
  over pixels and channels, divided by the standard deviation of the real image's pixels. 0 for
  copies of one image.

Neither number means much alone, so both are read against baselines made from the photo itself:

* ``shuffled``: the photo cut into tiles (a quarter of its shorter side) and put back in a random
  order. New arrangements made by scissors: diverse, but with seams the real image never has.
* ``blurred``: the photo blurred by a Gaussian of 2 px. The right layout with the texture gone.

A single-image GAN should be below both in SIFID while being diverse (above 0.1).
"""
from __future__ import annotations

from typing import Iterable

import torch
from torch import Tensor

from .faces import gaussian_blur
from .inception import SIFID_TAP, sifid_batch

TILE_FRACTION = 0.25  # shuffled tiles: a quarter of the shorter side (a 4 x 6 jigsaw for 64 x 96)
BLUR_SIGMA = 2.0  # pixels


def _as_batch(images: Tensor) -> Tensor:
    return images.unsqueeze(0) if images.dim() == 3 else images


def diversity(samples: Tensor, real: Tensor) -> float:
    """mean over pixels of std over samples, / std of the real image; samples (N, C, H, W), N >= 2."""
    samples = _as_batch(samples).float()
    if samples.shape[0] < 2:
        raise ValueError(f"Diversity needs at least 2 samples, got {samples.shape[0]}.")
    real = _as_batch(real).float()
    if samples.shape[1:] != real.shape[1:]:
        raise ValueError(f"Samples {tuple(samples.shape[1:])} and the real image {tuple(real.shape[1:])} differ in shape.")
    return float(samples.std(dim=0).mean() / real.std())


def shuffled_patches(image: Tensor, tile: int | None = None, generator: torch.Generator | None = None) -> Tensor:
    """The image (C, H, W) cut into tile x tile squares, put back in a random order (same shape).

    A border narrower than a tile (when H or W is not a multiple of it) stays where it is.
    """
    c, h, w = image.shape
    tile = tile or max(1, round(min(h, w) * TILE_FRACTION))
    rows, cols = h // tile, w // tile
    if rows * cols < 2:
        raise ValueError(f"A {h}x{w} image has fewer than 2 tiles of {tile} px to shuffle; use a smaller tile.")
    out = image.clone()
    grid = image[:, : rows * tile, : cols * tile]
    tiles = grid.reshape(c, rows, tile, cols, tile).permute(1, 3, 0, 2, 4).reshape(rows * cols, c, tile, tile)
    tiles = tiles[torch.randperm(rows * cols, generator=generator)]
    out[:, : rows * tile, : cols * tile] = tiles.reshape(rows, cols, c, tile, tile).permute(2, 0, 3, 1, 4).reshape(
        c, rows * tile, cols * tile)
    return out


def blurred(image: Tensor, sigma: float = BLUR_SIGMA) -> Tensor:
    """The image (C, H, W) blurred by a Gaussian of ``sigma`` pixels."""
    return gaussian_blur(image[None], sigma)[0]


def mean_sifid(real: Tensor, images: Iterable[Tensor], tap: str = SIFID_TAP) -> float:
    values = sifid_batch(real, list(images), tap=tap)
    return float(sum(values) / len(values))


def single_image_report(real: Tensor, samples: Tensor, n_shuffled: int = 10, seed: int = 0,
                        tile: int | None = None, sigma: float = BLUR_SIGMA) -> dict[str, float]:
    """SIFID of the samples beside its baselines, and the diversity of samples and of the shuffles.

    real (C, H, W), samples (N, C, H, W), all in [-1, 1] and of the same size.
    """
    real = real.detach().float().cpu()
    samples = _as_batch(samples).detach().float().cpu()
    g = torch.Generator().manual_seed(seed)
    shuffles = torch.stack([shuffled_patches(real, tile, g) for _ in range(max(2, n_shuffled))])
    return {
        "sifid": mean_sifid(real, samples),
        "sifid_shuffled": mean_sifid(real, shuffles),
        "sifid_blurred": mean_sifid(real, [blurred(real, sigma)]),
        "diversity": diversity(samples, real),
        "diversity_shuffled": diversity(shuffles, real),
        "n_samples": int(samples.shape[0]),
    }
