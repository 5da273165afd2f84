"""Real photos that ship inside scikit-image and scikit-learn: offline, licence-clean, up to ~1000 px.

    >>> photo("astronaut")              # (3, 512, 512) float32 in [-1, 1]
    >>> photo("hubble_deep_field", max_side=256)
    >>> photo("path/to/my_image.jpg")   # any image file works too (see data.folders.load_image)

Names: astronaut 512x512, coffee 400x600, chelsea 300x451, rocket 427x640, motorcycle_left 500x741,
hubble_deep_field 872x1000, immunohistochemistry 512x512 (scikit-image); china and flower 427x640
(scikit-learn).
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor


def _skimage(name: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        import skimage.data

        return getattr(skimage.data, name)()

    return load


def _motorcycle_left() -> np.ndarray:
    import skimage.data

    return skimage.data.stereo_motorcycle()[0]


def _sklearn(filename: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        from sklearn.datasets import load_sample_image

        return load_sample_image(filename)

    return load


PHOTOS: dict[str, Callable[[], np.ndarray]] = {
    "astronaut": _skimage("astronaut"),
    "coffee": _skimage("coffee"),
    "chelsea": _skimage("chelsea"),
    "rocket": _skimage("rocket"),
    "motorcycle_left": _motorcycle_left,
    "hubble_deep_field": _skimage("hubble_deep_field"),
    "immunohistochemistry": _skimage("immunohistochemistry"),
    "china": _sklearn("china.jpg"),
    "flower": _sklearn("flower.jpg"),
}


def resize_max_side(image: Tensor, max_side: int) -> Tensor:
    """Shrink (C, H, W) or (N, C, H, W) so the longer side is at most max_side (antialiased)."""
    h, w = image.shape[-2:]
    if max(h, w) <= max_side:
        return image
    scale = max_side / max(h, w)
    size = (max(1, round(h * scale)), max(1, round(w * scale)))
    batch = image if image.dim() == 4 else image.unsqueeze(0)
    out = F.interpolate(batch, size=size, mode="bilinear", align_corners=False, antialias=True)
    return out if image.dim() == 4 else out[0]


def photo(name_or_path: str, max_side: int | None = None) -> Tensor:
    """A bundled photo by name, or an image file by path, as (3, H, W) float32 in [-1, 1]."""
    if name_or_path in PHOTOS:
        arr = PHOTOS[name_or_path]()
        # a copy: scikit-image hands out read-only arrays, which torch warns about sharing
        image = torch.from_numpy(np.array(arr[..., :3], copy=True)).permute(2, 0, 1).float() / 127.5 - 1.0
        return resize_max_side(image, max_side) if max_side else image
    path = Path(name_or_path)
    if path.suffix or path.exists():
        from .folders import load_image

        return load_image(path, max_side=max_side)
    raise ValueError(f"{name_or_path!r} is neither a bundled photo ({', '.join(PHOTOS)}) nor an image path.")
