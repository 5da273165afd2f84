"""Figures the lectures share: image grids, training timelines, loss and quality curves.

Every function draws into a matplotlib Axes or Figure and returns it (nothing is shown or saved
behind the caller's back); ``save_figure`` writes a PNG. Images are [-1, 1] floats or uint8, NCHW.
"""
from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import torch
from torch import Tensor


def to_numpy_images(images: Tensor) -> np.ndarray:
    """(N, C, H, W) in [-1, 1] (float) or [0, 255] (uint8) -> (N, H, W, 3) uint8."""
    if images.dtype != torch.uint8:
        images = ((images.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    if images.dim() == 3:
        images = images.unsqueeze(0)
    if images.shape[1] == 1:
        images = images.repeat(1, 3, 1, 1)
    return images.permute(0, 2, 3, 1).cpu().numpy()


def grid_array(images: Tensor, nrow: int | None = None, pad: int = 1, pad_value: int = 255) -> np.ndarray:
    """Tile images into one (H', W', 3) uint8 array, ``nrow`` images per row (default: square)."""
    arr = to_numpy_images(images)
    n, h, w, _ = arr.shape
    nrow = nrow or max(1, math.ceil(math.sqrt(n)))
    rows = math.ceil(n / nrow)
    out = np.full((rows * (h + pad) + pad, nrow * (w + pad) + pad, 3), pad_value, np.uint8)
    for i in range(n):
        r, c = divmod(i, nrow)
        out[pad + r * (h + pad) : pad + r * (h + pad) + h, pad + c * (w + pad) : pad + c * (w + pad) + w] = arr[i]
    return out


def png_bytes(images: Tensor, nrow: int | None = None, scale: int = 1) -> bytes:
    """A grid as PNG bytes (for ipywidgets.Image), optionally enlarged with nearest-neighbour pixels."""
    from PIL import Image

    grid = grid_array(images, nrow)
    img = Image.fromarray(grid)
    if scale > 1:
        img = img.resize((img.width * scale, img.height * scale), Image.NEAREST)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def show_grid(images: Tensor, nrow: int | None = None, title: str | None = None, ax=None, figsize=(6, 6)):
    """Draw a grid of images; returns the Axes."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    ax.imshow(grid_array(images, nrow), interpolation="nearest")
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    return ax


def timeline(snapshots: Mapping[int, Tensor], n_show: int = 16, nrow: int = 4, title: str | None = None,
             panel_size: float = 2.2):
    """One panel per snapshot step (the same fixed noise throughout), labelled with the step."""
    import matplotlib.pyplot as plt

    steps = sorted(snapshots)
    fig, axes = plt.subplots(1, len(steps), figsize=(panel_size * len(steps), panel_size + 0.5), squeeze=False)
    for ax, step in zip(axes[0], steps):
        show_grid(snapshots[step][:n_show], nrow=nrow, ax=ax, title=f"after {step:,} updates")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def loss_curves(history: Sequence[dict], smooth: int = 1, title: str | None = None):
    """Left: d_loss and g_loss; right: the mean scores D(x) and D(G(z)) (when logged)."""
    import matplotlib.pyplot as plt

    steps = np.array([h["step"] for h in history])
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 3.5))
    for key, ax in (("d_loss", ax1), ("g_loss", ax1), ("D(x)", ax2), ("D(G(z))", ax2)):
        if history and key in history[0]:
            ax.plot(steps, moving_average([h[key] for h in history], smooth), label=key)
    ax1.set_xlabel("G updates"); ax1.set_ylabel("loss"); ax1.legend()
    ax2.set_xlabel("G updates"); ax2.set_ylabel("mean probability 'real'"); ax2.set_ylim(0, 1); ax2.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def moving_average(values: Sequence[float], k: int) -> np.ndarray:
    """Trailing mean over k points (same length; the first points average what exists)."""
    v = np.asarray(values, dtype=float)
    if k <= 1 or len(v) == 0:
        return v
    c = np.cumsum(np.insert(v, 0, 0.0))
    idx = np.arange(1, len(v) + 1)
    lo = np.maximum(0, idx - k)
    return (c[idx] - c[lo]) / (idx - lo)


def quality_curve(records: Sequence[tuple[int, float]], baselines: Mapping[str, float], ylabel: str = "FD",
                  title: str | None = None, ax=None):
    """FD over training (log scale) with each baseline as a labelled horizontal line."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4))
    steps, values = zip(*records) if records else ((), ())
    ax.plot(steps, values, "o-", color="black", label="G during training")
    styles = ["--", ":", "-.", (0, (5, 1)), (0, (1, 3))]
    for (name, value), style in zip(baselines.items(), styles):
        ax.axhline(value, linestyle=style, color=f"C{list(baselines).index(name)}", label=f"{name}: {value:.3g}")
    ax.set_yscale("log")
    ax.set_xlabel("G updates")
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title)
    return ax


def save_figure(fig, path: str | Path, dpi: int = 100) -> Path:
    """Save a figure as PNG (folders created); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi, bbox_inches="tight")
    return path
