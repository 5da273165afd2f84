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


# --- Latent interpolation (lecture 03) -----------------------------------------------------------
# A walk in z from one sample to another. z ~ N(0, I) in d dimensions lies near a sphere of radius
# sqrt(d); the straight line between two such points dips inside it (the midpoint's norm is about
# sqrt(d / 2)), where G saw no training noise. Spherical interpolation (slerp: Shoemake 1985, for
# GANs White 2016) follows the great circle instead, so every point along the way is a typical z.
def slerp(z0: Tensor, z1: Tensor, t: float | Tensor) -> Tensor:
    """Spherical interpolation between (..., d) vectors; t = 0 gives z0, t = 1 gives z1."""
    t = torch.as_tensor(t, dtype=z0.dtype, device=z0.device)
    u0, u1 = z0 / z0.norm(dim=-1, keepdim=True), z1 / z1.norm(dim=-1, keepdim=True)
    omega = torch.arccos((u0 * u1).sum(-1, keepdim=True).clamp(-1 + 1e-7, 1 - 1e-7))  # the angle between them
    so = torch.sin(omega)
    return (torch.sin((1 - t) * omega) / so) * z0 + (torch.sin(t * omega) / so) * z1


def latent_path(z0: Tensor, z1: Tensor, steps: int = 8, spherical: bool = True) -> Tensor:
    """``steps`` points from z0 to z1 (both ends included): (steps, d) for (d,) inputs, (B, steps, d) for (B, d)."""
    if steps < 2:
        raise ValueError(f"A path needs at least 2 steps (its two ends), got {steps}.")
    ts = torch.linspace(0, 1, steps, dtype=z0.dtype)
    points = [slerp(z0, z1, t) if spherical else torch.lerp(z0, z1, t) for t in ts]
    return torch.stack(points, dim=-2)


def interpolation_figure(rows: Tensor, title: str | None = None, row_labels: Sequence[str] | None = None,
                         panel_size: float = 0.9):
    """Rows of images along latent paths, (R, T, C, H, W): one path per row, left to right."""
    import matplotlib.pyplot as plt

    r, t = rows.shape[:2]
    fig, ax = plt.subplots(figsize=(panel_size * t + (1.2 if row_labels else 0.2), panel_size * r + 0.5))
    show_grid(rows.reshape(r * t, *rows.shape[2:]), nrow=t, ax=ax, title=title)
    if row_labels:
        h = rows.shape[-2] + 1  # image height plus the grid's 1-pixel gap
        ax.set_axis_on()
        ax.set_xticks([])
        ax.set_yticks([1 + h * i + h / 2 for i in range(r)], list(row_labels))
        for side in ax.spines.values():
            side.set_visible(False)
    fig.tight_layout()
    return fig


# --- 2-D toys (lectures 02 and 05): samples over the real mixture, D's surface, coverage ----------
@torch.no_grad()
def score_surface(D, extent: Sequence[float], resolution: int = 150, probability: bool = True):
    """D evaluated on a regular grid over ``extent`` = (xmin, xmax, ymin, ymax).

    Returns (values (resolution, resolution) as numpy, extent); ``probability`` applies a sigmoid
    (D's logit -> D(x)); a WGAN critic's raw scores are shown with ``probability=False``.
    """
    xmin, xmax, ymin, ymax = extent
    xs, ys = torch.linspace(xmin, xmax, resolution), torch.linspace(ymin, ymax, resolution)
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")  # rows are y, so imshow(origin='lower') matches
    points = torch.stack([gx.flatten(), gy.flatten()], 1)
    device = next(D.parameters()).device
    was = D.training
    D.eval()
    scores = D(points.to(device)).float().cpu()
    D.train(was)
    if probability:
        scores = torch.sigmoid(scores)
    return scores.view(resolution, resolution).numpy(), tuple(extent)


def plot_toy(real: Tensor, fake: Tensor | None = None, surface=None, ax=None, title: str | None = None,
             extent: Sequence[float] | None = None, probability: bool = True, max_points: int = 1500, colorbar: bool = False):
    """Real points (grey) and G's samples (red) in the plane, over D's surface if given.

    ``surface`` is what ``score_surface`` returns; with ``probability`` it is drawn on a fixed 0..1
    scale (blue: D says fake, red: D says real), else on a symmetric scale around 0 (a critic).
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(4.5, 4.5))
    if surface is not None:
        values, extent = surface
        if probability:
            vmin, vmax = 0.0, 1.0
        else:
            lim = float(np.abs(values).max()) or 1.0
            vmin, vmax = -lim, lim
        im = ax.imshow(values, origin="lower", extent=extent, cmap="coolwarm", vmin=vmin, vmax=vmax, alpha=0.6,
                       aspect="equal", interpolation="bilinear")
        if colorbar:
            plt.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="D(x)" if probability else "C(x)")
    r = real[:max_points].detach().cpu().numpy()
    ax.scatter(r[:, 0], r[:, 1], s=3, c="black", alpha=0.6, label="real", linewidths=0)
    if fake is not None:
        f = fake[:max_points].detach().cpu().float().numpy()
        ax.scatter(f[:, 0], f[:, 1], s=3, c="crimson", alpha=0.6, label="G(z)", linewidths=0)
    if extent is not None or surface is not None:
        xmin, xmax, ymin, ymax = extent
        ax.set_xlim(xmin, xmax)
        ax.set_ylim(ymin, ymax)
    ax.set_aspect("equal")
    ax.set_xticks([]), ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=9)
    return ax


def toy_timeline(snapshots: Mapping[int, Tensor], real: Tensor, steps: Sequence[int] | None = None,
                 surfaces: Mapping[int, tuple] | None = None, extent: Sequence[float] | None = None,
                 probability: bool = True, coverage: Mapping[int, dict] | None = None, title: str | None = None,
                 panel_size: float = 2.6, ncols: int | None = None):
    """One panel per step: G's samples over the real points (and D's surface at that step, if kept).

    ``coverage`` (step -> mode_coverage dict) adds "k modes, h% HQ" to each panel's title.
    """
    import matplotlib.pyplot as plt

    steps = list(steps) if steps is not None else sorted(snapshots)
    ncols = ncols or len(steps)
    nrows = math.ceil(len(steps) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(panel_size * ncols, panel_size * nrows + 0.4), squeeze=False)
    for ax in axes.flat[len(steps):]:
        ax.set_axis_off()
    for ax, step in zip(axes.flat, steps):
        label = f"after {step:,} updates"
        if coverage is not None and step in coverage:
            c = coverage[step]
            label += f"\n{c['modes']}/{c['n_modes']} modes, {100 * c['high_quality']:.0f}% HQ"
        plot_toy(real, snapshots[step], surfaces.get(step) if surfaces else None, ax=ax, title=label,
                 extent=extent, probability=probability)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def coverage_curve(records: Sequence[dict], n_modes: int, label: str | None = None, axes=None, title: str | None = None,
                   color: str | None = None):
    """Modes captured (left) and % high-quality samples (right) over training.

    ``records``: [{'step', 'modes', 'high_quality'}] as ``recipes.gan2d.coverage_over_training`` gives.
    Pass the returned ``axes`` pair again to draw several runs on the same plots.
    """
    import matplotlib.pyplot as plt

    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(11, 3.5))
    ax1, ax2 = axes
    steps = [r["step"] for r in records]
    ax1.plot(steps, [r["modes"] for r in records], "o-", ms=3, label=label, color=color)
    ax2.plot(steps, [100 * r["high_quality"] for r in records], "o-", ms=3, label=label, color=color)
    ax1.set_ylim(-0.3, n_modes + 0.5)
    ax1.axhline(n_modes, color="0.6", lw=0.8, ls="--")
    ax1.set_xlabel("G updates"); ax1.set_ylabel(f"modes captured (of {n_modes})")
    ax2.set_ylim(-2, 102)
    ax2.set_xlabel("G updates"); ax2.set_ylabel("% high-quality samples")
    if label:
        ax1.legend(fontsize=8), ax2.legend(fontsize=8)
    if title:
        ax1.figure.suptitle(title)
    return axes


def figure_to_image(fig, dpi: int = 80) -> Tensor:
    """A matplotlib figure as a (1, 3, H, W) uint8 tensor (e.g. frames for ``widgets.SnapshotScrubber``)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    buf.seek(0)
    from PIL import Image

    arr = np.asarray(Image.open(buf).convert("RGB"))
    return torch.from_numpy(arr.copy()).permute(2, 0, 1).unsqueeze(0)
