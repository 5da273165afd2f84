"""Measurements for image translation by tiles: seam score and style distance (lecture 12).

Seam score
    In one output image, the mean absolute difference between the two pixel rows (columns) that meet
    at each tile border, divided by the same quantity for the rows (columns) S/2 earlier, inside the
    tiles. 1.0 means the borders are no more visible than any other place; a tiled translation whose
    tiles disagree at their edges scores above 1. Tile borders are at multiples of S from the top-left
    corner, as ``translate_full`` lays them out; the same positions are scored for an image translated
    in one piece, whose score is then the baseline for that image.

Seam profile and band
    The same step measured at every position within a tile (``seam_profile``), relative to the median
    position. The seam score reads position 0 only, so it misses a frame: tiles that each draw a line
    along their own edges have a small step *at* the border and large ones beside it. ``seam_band`` is
    the highest of positions tile - 1, 0 and 1, and sees both.

Style distance
    The distance between the Gram matrices (``losses.gram_matrix``: which features co-occur, not where)
    of the FID Inception's early feature maps (``InceptionEarlyFeatures``, taps ``conv_2`` and
    ``conv_4``: 64 and 192 channels at strides 2 and 4, texture and colour scale), each Frobenius norm
    divided by the target's, averaged over taps. Gram matrices suit a style comparison: a translation
    whose strokes and texture have the painting's statistics scores low even where they do not fall
    on exactly the same pixels. ``feature_distance`` is the position-aligned companion (mean absolute
    difference of the same maps, relative to the target's mean magnitude), also reported.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor

from ..losses import gram_matrix

STYLE_TAPS = ("conv_2", "conv_4")


def _batch(image: Tensor) -> Tensor:
    if image.dim() == 3:
        image = image.unsqueeze(0)
    if image.dim() != 4:
        raise ValueError(f"Expected (C, H, W) or (N, C, H, W) images, got {tuple(image.shape)}.")
    return image.float()


def _pair_diff(x: Tensor, positions: list[int], dim: int) -> Tensor:
    """Mean |x[p - 1] - x[p]| along ``dim`` (rows: -2, columns: -1) over the given positions."""
    idx = torch.tensor(positions, device=x.device)
    return (x.index_select(dim, idx - 1) - x.index_select(dim, idx)).abs().mean()


def seam_score(image: Tensor, tile: int) -> float:
    """Border-to-interior ratio of neighbouring-pixel differences for a ``tile`` grid (see module doc)."""
    x = _batch(image)
    h, w = x.shape[-2:]
    if tile < 2:
        raise ValueError(f"tile must be at least 2 px, got {tile}.")
    rows = list(range(tile, h, tile))  # border between rows b-1 and b
    cols = list(range(tile, w, tile))
    if not rows and not cols:
        raise ValueError(f"A {h}x{w} image has no tile border for tile {tile}: it needs a side longer than {tile}.")
    half = tile // 2
    border, inside = [], []
    if rows:
        border.append(_pair_diff(x, rows, -2))
        inside.append(_pair_diff(x, [b - half for b in rows], -2))
    if cols:
        border.append(_pair_diff(x, cols, -1))
        inside.append(_pair_diff(x, [b - half for b in cols], -1))
    return float(torch.stack(border).mean() / torch.stack(inside).mean().clamp_min(1e-8))


def seam_profile(image: Tensor, tile: int) -> Tensor:
    """(tile,): entry k is the mean |step| between neighbouring pixels across the rows and columns at
    position k within a tile (the step from p - 1 to p, for every p = k mod ``tile``), divided by the
    median entry: 1.0 is a typical place. Entry 0 is the tile border, the place ``seam_score`` reads.
    A tiled translation whose tiles disagree shows a peak at 0; one whose tiles each paint a frame (a
    line along their own edges, as a zero-padded G can) shows peaks at 1 and ``tile - 1`` (into and out
    of the line) with little at 0, which the seam score alone does not see."""
    x = _batch(image)
    h, w = x.shape[-2:]
    if tile < 2 or max(h, w) <= tile:
        raise ValueError(f"seam_profile needs tile >= 2 and a side longer than the tile ({tile}), got {h}x{w}.")
    rows = (x[..., 1:, :] - x[..., :-1, :]).abs().mean(dim=(0, 1, 3))  # (h - 1,): step into row p = 1 .. h-1
    cols = (x[..., :, 1:] - x[..., :, :-1]).abs().mean(dim=(0, 1, 2))  # (w - 1,)
    profile = torch.stack([torch.cat([rows[(k - 1) % tile::tile], cols[(k - 1) % tile::tile]]).mean()
                           for k in range(tile)])
    return profile / profile.median().clamp_min(1e-8)


def seam_band(image: Tensor, tile: int) -> float:
    """The highest ``seam_profile`` entry at a tile border or beside it (positions tile - 1, 0 and 1):
    a step between tiles and a frame along their edges both raise it; about 1 where neither is."""
    p = seam_profile(image, tile)
    return float(torch.stack([p[-1], p[0], p[1]]).max())


class StyleMeter:
    """Style and aligned feature distances to one target image, with the target's features cached."""

    def __init__(self, target: Tensor, taps: Sequence[str] = STYLE_TAPS, device=None) -> None:
        from .inception import InceptionEarlyFeatures

        self.net = InceptionEarlyFeatures(tuple(taps), device=device)
        self.device = next(self.net.parameters()).device
        self.target = self._features(target)
        self.target_grams = {k: gram_matrix(v) for k, v in self.target.items()}

    @torch.no_grad()
    def _features(self, image: Tensor) -> dict[str, Tensor]:
        return {k: v.float() for k, v in self.net(_batch(image).clamp(-1, 1).to(self.device)).items()}

    def style_distance(self, image: Tensor) -> float:
        """Mean over taps of ||Gram(image) - Gram(target)||_F / ||Gram(target)||_F."""
        feats = self._features(image)
        ratios = [(gram_matrix(feats[k]) - g).norm() / g.norm() for k, g in self.target_grams.items()]
        return float(torch.stack(ratios).mean())

    def feature_distance(self, image: Tensor) -> float:
        """Mean over taps of mean |f(image) - f(target)| / mean |f(target)| (same size images)."""
        feats = self._features(image)
        if any(feats[k].shape != v.shape for k, v in self.target.items()):
            raise ValueError("feature_distance compares position by position: give an image of the target's size.")
        return float(torch.stack([(feats[k] - v).abs().mean() / v.abs().mean() for k, v in self.target.items()]).mean())

    def closed(self, translated: Tensor, source: Tensor) -> float:
        """Share of the source's style distance to the target that the translation removes (1 = all)."""
        before = self.style_distance(source)
        return 1.0 - self.style_distance(translated) / before
