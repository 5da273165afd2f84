"""Procedural anime faces: the course's offline stand-in for a real anime-face dataset.

Every face is drawn from a handful of known attributes plus continuous jitter, so the lectures get
both a dataset a DCGAN can learn (lecture 01) and exact ground truth for later ones: conditional
accuracy, attribute arithmetic, and hair-colour translation (the same face redrawn with another hair
colour is the true answer).

Three layers, each usable on its own:

* ``sample_params(n, seed)`` draws the recipe for ``n`` faces: five integer attributes
  (:data:`ATTRIBUTES`), continuous jitter (position, size, tilt, colours, eye size, bangs, ...) and a
  per-face seed for small random details (stray hair strands, the exact shape of the bangs).
* ``render_faces(params, size)`` draws those faces with Pillow at 4x the target size and averages
  4x4 blocks down (a box filter, i.e. supersampling antialiasing). Drawing is a pure function of the
  recipe: change only ``params["hair_colour"][i]`` and face ``i`` comes back with another hair colour
  and every other pixel of the face the same.
* ``procedural_faces(n, size, seed)`` is the dataset: images and integer labels, with the renders
  cached (as uint8) under ``cache_dir("faces")``.

Geometry is written in *face units*: the face is 2 units wide (x from -1 to 1), y points down, the
eyes sit near y = 0.2 and the chin near y = 1. A small "pen" maps face units to canvas pixels with the
face's position, scale and tilt, so the whole head tilts as one.

Bump :data:`GENERATOR_VERSION` whenever the drawing changes: it keys the cache.
"""
from __future__ import annotations

import colorsys
import math
import random
import warnings
from typing import Mapping, Sequence

import numpy as np
import torch
from PIL import Image, ImageDraw

from course_lib.runtime import cache_dir
from course_lib.storage import atomic_save, safe_load

__all__ = [
    "GENERATOR_VERSION",
    "ATTRIBUTES",
    "HAIR_RGB",
    "EYE_RGB",
    "sample_params",
    "render_faces",
    "procedural_faces",
]

GENERATOR_VERSION = "1"

# Seeds of the procedural-face sets. A GAN trains on GAN_TRAIN_SEED whatever its run seed; every set
# used to measure it comes from another seed, so no measured face is a training face.
GAN_TRAIN_SEED = 0
FEATURE_TRAIN_SEED = 1  # the face-feature network's training faces
REFERENCE_SEED = 2  # the real set every FD is taken against (also the feature net's held-out set)
HELDOUT_SEED = 3  # a second held-out real set: the floor, the blurred and the one-hair baselines
MEASUREMENT_SEEDS = (FEATURE_TRAIN_SEED, REFERENCE_SEED, HELDOUT_SEED)

# Class names of the five known attributes, in this order. Chosen to be readable at 32x32 px:
# hues that differ strongly, silhouettes that differ in where the hair is (not only in detail).
ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "hair_colour": ("black", "brown", "blonde", "red", "pink", "blue", "silver", "green"),
    "hair_style": ("bob", "long", "twin_tails", "bun"),
    "eye_colour": ("brown", "blue", "green", "purple", "red", "gold"),
    "face_shape": ("round", "pointed", "square"),
    "mouth": ("smile", "open", "small_o", "cat"),
}

# Base colours (RGB 0-255) of each hair and eye class; ``hair_shade`` / ``eye_shade`` jitter them.
# Public so that lectures can measure e.g. how far a translated face's hair is from the target colour.
HAIR_RGB: dict[str, tuple[int, int, int]] = {
    "black": (38, 36, 48),
    "brown": (122, 74, 40),
    "blonde": (246, 214, 116),
    "red": (208, 44, 40),
    "pink": (250, 150, 196),
    "blue": (52, 98, 218),
    "silver": (206, 212, 224),
    "green": (58, 168, 86),
}
EYE_RGB: dict[str, tuple[int, int, int]] = {
    "brown": (150, 84, 38),
    "blue": (40, 112, 236),
    "green": (36, 176, 72),
    "purple": (150, 66, 214),
    "red": (226, 36, 48),
    "gold": (238, 184, 28),
}

# Continuous jitter: name -> (low, high) of a uniform draw. The comments say what each one moves.
_JITTER: dict[str, tuple[float, float]] = {
    "face_x": (-0.06, 0.06),  # face centre offset, fraction of the image width
    "face_y": (-0.03, 0.04),  # face centre offset, fraction of the image height
    "face_scale": (0.9, 1.1),  # multiplies the face size
    "tilt": (-10.0, 10.0),  # head tilt in degrees
    "skin_tone": (0.0, 1.0),  # 0 pale ... 1 light tan
    "hair_shade": (-1.0, 1.0),  # darker ... lighter version of the hair colour
    "eye_shade": (-1.0, 1.0),  # darker ... lighter version of the eye colour
    "eye_size": (0.88, 1.12),  # multiplies eye width and height
    "eye_spacing": (0.92, 1.08),  # multiplies the distance between the eyes
    "gaze": (-1.0, 1.0),  # irises look left ... right
    "brow_tilt": (-1.0, 1.0),  # worried ... stern eyebrows
    "blush": (0.0, 1.0),  # below 0.45 no blush; above, stronger, with hatch lines past 0.75
    "fringe_length": (0.0, 1.0),  # short bangs ... bangs reaching the eyelids
    "fringe_part": (-1.0, 1.0),  # where the bangs part, left ... right
    "bg_hue": (0.0, 1.0),
    "bg_sat": (0.08, 0.55),
    "bg_val": (0.62, 0.98),
    "bg_two_tone": (0.0, 1.0),  # below 0.5 a plain background; above, a second tone across a diagonal
    "accent_hue": (0.0, 1.0),  # shirt and ribbons
}
_SEED_KEY = "face_seed"
_REQUIRED_KEYS = (*ATTRIBUTES, *_JITTER, _SEED_KEY)

_SUPERSAMPLE = 4  # draw at 4x and average 4x4 blocks: smooth edges at a few ms per face
_FACE_UNIT = 0.27  # face units -> fraction of the image side at face_scale 1
_PROGRESS_ABOVE = 500  # show a progress bar when rendering more faces than this

RGB = tuple[int, int, int]


# ----------------------------------------------------------------------------------------------
# Sampling the recipe
# ----------------------------------------------------------------------------------------------
def _check_int(name: str, value, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an int, got {value!r} ({type(value).__name__}).")
    if value < low:
        raise ValueError(f"{name} must be at least {low}, got {value}.")
    return int(value)


def sample_params(n: int, seed: int = 0) -> dict[str, torch.Tensor]:
    """Draw the recipe for ``n`` faces from a torch generator seeded with ``seed``.

    Returns a dict of length-``n`` tensors: the five attributes of :data:`ATTRIBUTES` as int64 class
    indices (uniform over classes), the continuous jitter as float32, and ``face_seed`` (int64) that
    seeds each face's small random details. Edit it freely and pass it to :func:`render_faces`.
    """
    n = _check_int("n", n, 1)
    seed = _check_int("seed", seed, -(2**63))
    gen = torch.Generator().manual_seed(seed)
    params: dict[str, torch.Tensor] = {}
    # Fixed draw order (attributes, then jitter in _JITTER order, then seeds) keeps a seed's faces stable.
    for name, classes in ATTRIBUTES.items():
        params[name] = torch.randint(len(classes), (n,), generator=gen, dtype=torch.int64)
    for name, (low, high) in _JITTER.items():
        params[name] = low + (high - low) * torch.rand(n, generator=gen, dtype=torch.float32)
    params[_SEED_KEY] = torch.randint(2**31 - 1, (n,), generator=gen, dtype=torch.int64)
    return params


# ----------------------------------------------------------------------------------------------
# Small helpers: colours and curves (all in face units unless said otherwise)
# ----------------------------------------------------------------------------------------------
def _mix(a: Sequence[float], b: Sequence[float], t: float) -> RGB:
    """Linear blend a -> b; t = 0 gives a."""
    return tuple(int(round(x + (y - x) * t)) for x, y in zip(a, b))  # type: ignore[return-value]


def _shade(c: Sequence[float], factor: float) -> RGB:
    """Brighter (factor > 1) or darker (< 1), clipped to 0..255."""
    return tuple(int(min(255, max(0, round(x * factor)))) for x in c)  # type: ignore[return-value]


def _hsv(h: float, s: float, v: float) -> RGB:
    r, g, b = colorsys.hsv_to_rgb(h % 1.0, s, v)
    return int(r * 255 + 0.5), int(g * 255 + 0.5), int(b * 255 + 0.5)


def _ellipse(cx: float, cy: float, rx: float, ry: float, a0: float = 0.0, a1: float = 2 * math.pi,
             n: int = 32) -> np.ndarray:
    """Points on an ellipse arc, angles in radians from +x towards +y (down). Shape (n, 2)."""
    t = np.linspace(a0, a1, n)
    return np.stack([cx + rx * np.cos(t), cy + ry * np.sin(t)], axis=1)


_BEZ_T = {k: np.linspace(0.0, 1.0, k)[:, None] for k in (4, 6, 8, 10, 12)}


def _bezier(p0, p1, p2, n: int = 8) -> np.ndarray:
    """Quadratic Bezier from p0 to p2 pulled towards p1. Shape (n, 2)."""
    t = _BEZ_T.get(n)
    if t is None:
        t = np.linspace(0.0, 1.0, n)[:, None]
    p0, p1, p2 = np.asarray(p0, float), np.asarray(p1, float), np.asarray(p2, float)
    return (1 - t) ** 2 * p0 + 2 * (1 - t) * t * p1 + t**2 * p2


def _mirror(pts: np.ndarray) -> np.ndarray:
    """Reflect across the face's vertical axis (x -> -x)."""
    return pts * np.array([-1.0, 1.0])


class _Pen:
    """Draws shapes given in face units onto a Pillow canvas: rotate by the tilt, scale, translate."""

    def __init__(self, draw: ImageDraw.ImageDraw, cx: float, cy: float, scale: float, tilt_deg: float):
        self.draw = draw
        self.scale = scale  # canvas pixels per face unit
        a = math.radians(tilt_deg)
        # Row-vector convention: canvas = pts @ M + t.
        self.m = scale * np.array([[math.cos(a), math.sin(a)], [-math.sin(a), math.cos(a)]])
        self.t = np.array([cx, cy])

    def _xy(self, pts: np.ndarray) -> list[float]:
        return (np.asarray(pts) @ self.m + self.t).ravel().tolist()  # flat [x0, y0, x1, y1, ...]

    def _width(self, w: float) -> int:
        return max(1, int(round(w * self.scale)))

    def polygon(self, pts: np.ndarray, fill: RGB) -> None:
        self.draw.polygon(self._xy(pts), fill=fill)

    def line(self, pts: np.ndarray, fill: RGB, width: float, closed: bool = False) -> None:
        """A polyline ``width`` face units thick (at least one canvas pixel)."""
        if closed:
            pts = np.concatenate([pts, pts[:1]], axis=0)
        self.draw.line(self._xy(pts), fill=fill, width=self._width(width), joint="curve")

    def ellipse(self, cx: float, cy: float, rx: float, ry: float, fill: RGB, n: int = 24) -> None:
        self.polygon(_ellipse(cx, cy, rx, ry, n=n), fill)


# ----------------------------------------------------------------------------------------------
# The parts of a face, back to front
# ----------------------------------------------------------------------------------------------
# Half-width of the lower face as a function of t in [0, 1] (cheekbone at y = 0.2 -> chin), and the
# chin's depth below the cheekbone. Three profiles that differ where the hair never covers: the jaw.
_JAW = {
    "round": (lambda t: np.sqrt(np.clip(1 - t**2, 0, 1)), 0.84),  # U-shaped, short
    "pointed": (lambda t: 0.96 * (1 - t**1.7), 1.06),  # V-shaped, long, a soft point
    "square": (lambda t: 0.97 * np.clip(1 - t**3.5, 0, 1) ** (1 / 3.5), 0.9),  # wide jaw, flat chin
}
_JAW_T = np.linspace(0.0, 1.0, 20)


def _face_outline(shape: str) -> tuple[np.ndarray, float]:
    """Closed outline of the skin (forehead arc + jaw profile) and the chin's y. Shape (K, 2)."""
    width_of, depth = _JAW[shape]
    top = _ellipse(0.0, 0.2, 1.0, 1.05, 2 * math.pi, math.pi, n=20)  # right cheek, over the top, left
    w = width_of(_JAW_T)
    y = 0.2 + depth * _JAW_T
    left = np.stack([-w, y], axis=1)
    right = np.stack([w, y], axis=1)[::-1]
    return np.concatenate([top, left[1:], right[1:-1]], axis=0), 0.2 + depth


def _draw_background(draw: ImageDraw.ImageDraw, S: int, p: dict) -> None:
    base = _hsv(p["bg_hue"], p["bg_sat"], p["bg_val"])
    draw.rectangle((0, 0, S, S), fill=base)
    if p["bg_two_tone"] > 0.5:
        # A second, neighbouring tone below a diagonal whose slope follows the jitter.
        u = (p["bg_two_tone"] - 0.5) * 2  # 0..1
        second = _hsv(p["bg_hue"] + 0.07, p["bg_sat"] * 0.8 + 0.1, p["bg_val"] * 0.82)
        y0, y1 = S * (0.25 + 0.5 * u), S * (0.85 - 0.5 * u)
        draw.polygon([(0, y0), (S, y1), (S, S), (0, S)], fill=second)


def _draw_body(pen: _Pen, accent: RGB) -> None:
    """Shoulders in a shirt; the neck is drawn later, in front of the back hair."""
    shirt = [(-0.5, 1.45), (0.5, 1.45), (1.15, 1.62), (1.95, 1.95), (2.4, 3.6), (-2.4, 3.6),
             (-1.95, 1.95), (-1.15, 1.62)]
    pen.polygon(np.array(shirt), accent)
    pen.line(np.array(shirt[2:5]), _shade(accent, 0.6), 0.03)
    pen.line(_mirror(np.array(shirt[2:5])), _shade(accent, 0.6), 0.03)


def _draw_neck(pen: _Pen, skin: RGB) -> None:
    # Darker than the face so that the chin's silhouette reads; a V neckline into the shirt.
    neck = np.array([(-0.36, 0.4), (0.36, 0.4), (0.4, 1.5), (0.0, 1.9), (-0.4, 1.5)])
    pen.polygon(neck, _mix(skin, (214, 138, 122), 0.3))


def _back_hair(style: str) -> np.ndarray:
    """Outline of the hair behind the head for one style. Shape (K, 2)."""
    top = _ellipse(0.0, -0.15, 1.24, 1.2, math.pi, 2 * math.pi, n=22)  # left -> over the top -> right
    if style == "bob":
        # Down to the chin, ending in a row of pointed locks.
        right = [(1.3, 0.35), (1.34, 0.8), (1.22, 1.08), (1.08, 0.86), (0.88, 1.05), (0.7, 0.86)]
        side = np.array(right)
        return np.concatenate([top, side, _mirror(side)[::-1]], axis=0)
    if style == "long":
        # Straight curtains past the shoulders and out of the frame.
        side = np.concatenate([_bezier((1.26, 0.1), (1.4, 0.8), (1.55, 2.2), 8), [(1.6, 3.8)]], axis=0)
        return np.concatenate([top, side, _mirror(side)[::-1]], axis=0)
    # twin_tails and bun: hair tied up, only a short nape shows behind the head.
    side = np.array([(1.24, 0.1), (1.16, 0.42), (0.8, 0.5)])
    return np.concatenate([top, side, _mirror(side)[::-1]], axis=0)


def _twin_tail() -> np.ndarray:
    """Right tail (mirror it for the left): from the top of the head, out and down. Shape (K, 2)."""
    outer = _bezier((0.78, -1.12), (2.35, -0.9), (1.72, 2.5), 12)
    inner = _bezier((1.72, 2.5), (1.2, 0.5), (1.0, -0.5), 10)
    return np.concatenate([outer, inner[1:]], axis=0)


def _draw_ribbon(pen: _Pen, x: float, y: float, accent: RGB, size: float = 0.2) -> None:
    """A small bow: two triangles and a knot."""
    dark = _shade(accent, 0.65)
    for s in (-1.0, 1.0):
        pen.polygon(np.array([(x, y), (x + s * size, y - 0.7 * size), (x + s * size, y + 0.7 * size)]), accent)
    pen.ellipse(x, y, 0.3 * size, 0.3 * size, dark, n=12)


def _draw_eye(pen: _Pen, ex: float, ey: float, w: float, h: float, side: float, iris: RGB,
              gaze: float, lash: RGB) -> None:
    """One big anime eye; ``side`` is +1 for the eye on the image's right, -1 for the left."""
    rx, ry = w / 2, h / 2
    pen.ellipse(ex, ey, rx, ry, (252, 252, 255), n=28)  # sclera
    # Iris: dark top, two lighter bands below (chords of the same ellipse), a dark ring.
    ix, iy, irx, iry = ex + gaze * 0.09 * w, ey + 0.05 * h, 0.34 * w, 0.43 * h
    pen.ellipse(ix, iy, irx, iry, _shade(iris, 0.5), n=24)
    for a, colour in ((-0.25, iris), (0.6, _mix(iris, (255, 255, 255), 0.4))):
        pen.polygon(_ellipse(ix, iy, irx, iry, a, math.pi - a, n=14), colour)
    pen.line(_ellipse(ix, iy, irx, iry, n=24), _shade(iris, 0.35), 0.025, closed=True)
    pen.ellipse(ix, iy - 0.03 * h, 0.13 * w, 0.2 * h, _shade(iris, 0.2), n=14)  # pupil
    # Highlights: a big dot upper left, a small one lower right (same side on both eyes: one light).
    pen.ellipse(ix - 0.13 * w, iy - 0.17 * h, 0.1 * w, 0.1 * w, (255, 255, 255), n=12)
    pen.ellipse(ix + 0.11 * w, iy + 0.2 * h, 0.05 * w, 0.05 * w, (255, 255, 255), n=8)
    # Upper lid: a band over the top of the eye, thickening towards the outer corner, ending in a flick.
    theta = np.linspace(math.pi + 0.12, 2 * math.pi - 0.05, 16)
    u = (theta - math.pi) / math.pi  # 0 at the image-left corner, 1 at the right
    outer_u = u if side > 0 else 1 - u  # 0 at the inner corner, 1 at the outer
    thick = 0.05 + 0.07 * outer_u
    cx, cy = np.cos(theta), np.sin(theta)
    up = np.stack([ex + (rx + 0.5 * thick) * cx, ey + (ry + 0.5 * thick) * cy], axis=1)
    down = np.stack([ex + (rx - 0.5 * thick) * cx, ey + (ry - 0.6 * thick) * cy], axis=1)
    if side < 0:  # lists run from the inner to the outer corner for both eyes
        up, down = up[::-1], down[::-1]
    corner = up[-1]
    flick = corner + np.array([side * 0.13, -0.07])
    pen.polygon(np.concatenate([up, [flick], down[::-1]], axis=0), lash)
    # Lower lid: a short thin line under the outer half.
    a0, a1 = (0.15, 0.95) if side > 0 else (math.pi - 0.95, math.pi - 0.15)
    pen.line(_ellipse(ex, ey, rx * 1.03, ry * 1.03, a0, a1, n=8), _mix(lash, (255, 255, 255), 0.25), 0.022)


def _bangs(rng: random.Random, length: float, part: float) -> tuple[np.ndarray, list[np.ndarray]]:
    """The hair cap with a fringe of pointed locks, and the thin lines between locks.

    Returns the outline (K, 2) and a list of (k, 2) polylines. Draws a fixed pattern of random
    numbers from ``rng`` that does not depend on any attribute (so hair colour can change alone).
    """
    n_locks = rng.choice((5, 6, 7))
    jit = [rng.random() for _ in range(3 * 7 + 7)]  # always the same count, whatever n_locks is
    # Lock boundaries from the right side to the left side of the forehead.
    bounds = np.linspace(1.08, -1.08, n_locks + 1)
    bounds[1:-1] += (np.array(jit[:n_locks - 1]) - 0.5) * (1.6 / n_locks)
    valleys_y = -0.64 + 0.1 * (np.array(jit[7:7 + n_locks + 1]) - 0.5)
    valleys_y[0] = valleys_y[-1] = -0.3  # the outer edges meet the side locks
    tip_base = -0.36 + 0.3 * length
    part_x = 0.55 * part
    cap = _ellipse(0.0, -0.15, 1.21, 1.19, math.pi - 0.1, 2 * math.pi + 0.1, n=22)  # left -> top -> right
    pts = [cap]
    lines = []
    for j in range(n_locks):
        xa, xb = bounds[j], bounds[j + 1]  # right and left edge of this lock
        va, vb = np.array([xa, valleys_y[j]]), np.array([xb, valleys_y[j + 1]])
        mid = 0.5 * (xa + xb)
        # Locks lean away from the part and get shorter towards the sides (the side locks take over).
        lean = 0.11 * float(np.clip((mid - part_x) * 2.5, -1, 1))
        tip = np.array([mid + lean, tip_base + 0.1 * (jit[15 + j] - 0.5) - 0.14 * abs(mid) ** 2])
        pts.append(_bezier(va, (xa, 0.35 * va[1] + 0.65 * tip[1]), tip, 6))
        pts.append(_bezier(tip, (xb, 0.35 * vb[1] + 0.65 * tip[1]), vb, 6)[1:])
        if 0 < j:
            # A crease running up from the valley towards the part.
            top = va + np.array([0.3 * (part_x - xa), -0.32])
            lines.append(_bezier(va, va + np.array([0.0, -0.18]), top, 4))
    return np.concatenate(pts, axis=0), lines


def _side_lock(style: str) -> np.ndarray:
    """The right lock framing the face (mirror it for the left). Shape (K, 2)."""
    length = {"bob": 0.8, "long": 1.25, "twin_tails": 0.45, "bun": 0.45}[style]
    inner = _bezier((0.76, -0.55), (0.93, 0.05), (1.0, length), 8)
    outer = _bezier((1.0, length), (1.22, 0.1), (1.22, -0.45), 8)
    return np.concatenate([inner, outer[1:]], axis=0)


def _draw_strands(pen: _Pen, rng: random.Random, colour: RGB) -> None:
    """Stray strands off the hair outline, and sometimes an 'ahoge' antenna on top."""
    jit = [rng.random() for _ in range(5 * 6 + 4)]  # fixed count: see _bangs
    n_strands = 2 + int(jit[0] * 3)  # 2..4
    for k in range(n_strands):
        a, b, c, d, e = jit[1 + 5 * k: 6 + 5 * k]
        theta = math.pi - 0.25 + (math.pi + 0.5) * a  # anywhere on the upper outline, sides included
        p0 = np.array([1.18 * math.cos(theta), -0.15 + 1.16 * math.sin(theta)])
        out = np.array([math.cos(theta + (b - 0.5) * 1.6), math.sin(theta + (b - 0.5) * 1.6)])
        p2 = p0 + (0.25 + 0.35 * c) * out
        p1 = 0.5 * (p0 + p2) + (d - 0.5) * 0.5 * np.array([-out[1], out[0]])
        pen.line(_bezier(p0, p1, p2, 8), colour, 0.018 + 0.02 * e)
    if jit[31] < 0.5:
        x0 = (jit[32] - 0.5) * 0.6
        s = 1.0 if jit[33] < 0.5 else -1.0
        pen.line(_bezier((x0, -1.25), (x0 - s * 0.35, -1.85), (x0 + s * 0.4, -1.62), 10), colour, 0.045)


def _draw_mouth(pen: _Pen, kind: str, y: float) -> None:
    line = (105, 38, 42)
    inside = (150, 34, 46)
    if kind == "smile":
        pen.line(_bezier((-0.22, y - 0.04), (0.0, y + 0.16), (0.22, y - 0.04), 10), line, 0.055)
    elif kind == "open":
        top = _bezier((-0.2, y - 0.06), (0.0, y - 0.01), (0.2, y - 0.06), 8)
        bottom = _bezier((0.2, y - 0.06), (0.0, y + 0.34), (-0.2, y - 0.06), 10)
        shape = np.concatenate([top, bottom[1:]], axis=0)
        pen.polygon(shape, inside)
        pen.ellipse(0.0, y + 0.08, 0.1, 0.045, (236, 118, 122), n=12)  # tongue
        pen.line(shape, line, 0.03, closed=True)
    elif kind == "small_o":
        pen.ellipse(0.0, y + 0.02, 0.075, 0.095, inside, n=14)
        pen.line(_ellipse(0.0, y + 0.02, 0.075, 0.095, n=14), line, 0.03, closed=True)
    else:  # cat: a wide 'w'
        left = _bezier((-0.24, y - 0.05), (-0.12, y + 0.16), (0.0, y - 0.01), 8)
        right = _bezier((0.0, y - 0.01), (0.12, y + 0.16), (0.24, y - 0.05), 8)
        pen.line(np.concatenate([left, right[1:]], axis=0), line, 0.05)


_SKIN_PALE, _SKIN_PEACH, _SKIN_TAN = (255, 238, 228), (250, 216, 194), (226, 178, 140)


def _skin(tone: float) -> RGB:
    return _mix(_SKIN_PALE, _SKIN_PEACH, tone * 2) if tone < 0.5 else _mix(_SKIN_PEACH, _SKIN_TAN, tone * 2 - 1)


def _draw_face(p: dict, S: int) -> Image.Image:
    """Draw one face (a dict of Python scalars) on an S x S canvas."""
    img = Image.new("RGB", (S, S))
    draw = ImageDraw.Draw(img)
    _draw_background(draw, S, p)
    pen = _Pen(draw, S * (0.5 + p["face_x"]), S * (0.53 + p["face_y"]), S * _FACE_UNIT * p["face_scale"], p["tilt"])
    # Every random detail comes from the face's own generator, in an order fixed by the code alone.
    rng = random.Random(p[_SEED_KEY])

    hair_name = ATTRIBUTES["hair_colour"][p["hair_colour"]]
    style = ATTRIBUTES["hair_style"][p["hair_style"]]
    shape = ATTRIBUTES["face_shape"][p["face_shape"]]
    hair = _shade(HAIR_RGB[hair_name], 1 + 0.12 * p["hair_shade"])
    hair_dark = _shade(hair, 0.62)  # outlines, creases, eyebrows
    hair_line = _mix(hair_dark, (20, 14, 24), 0.35)
    hair_light = _mix(hair, (255, 255, 255), 0.42)  # the 'angel ring' highlight
    hair_back = _shade(hair, 0.84)  # hair behind the head is in shadow: gives the head depth
    iris = _shade(EYE_RGB[ATTRIBUTES["eye_colour"][p["eye_colour"]]], 1 + 0.14 * p["eye_shade"])
    skin = _skin(p["skin_tone"])
    skin_shadow = _mix(skin, (200, 120, 120), 0.28)
    skin_line = _mix(skin, (120, 56, 50), 0.6)
    accent = _hsv(p["accent_hue"], 0.5, 0.78)
    lash = (44, 28, 38)

    _draw_body(pen, accent)
    # Hair behind the head.
    if style == "twin_tails":
        for mirror in (False, True):
            tail = _twin_tail()
            tail = _mirror(tail) if mirror else tail
            pen.polygon(tail, hair_back)
            pen.line(tail, hair_line, 0.03, closed=True)
    elif style == "bun":
        pen.ellipse(0.0, -1.36, 0.4, 0.38, hair_back, n=24)
        pen.line(_ellipse(0.0, -1.36, 0.4, 0.38, n=24), hair_line, 0.03, closed=True)
        pen.line(_ellipse(0.0, -1.38, 0.24, 0.2, math.pi * 1.1, math.pi * 2.2, n=10), hair_dark, 0.025)
    back = _back_hair(style)
    pen.polygon(back, hair_back)
    pen.line(back, hair_line, 0.03, closed=True)
    _draw_neck(pen, skin)

    # Face.
    outline, chin_y = _face_outline(shape)
    pen.polygon(outline, skin)
    pen.line(outline, skin_line, 0.028, closed=True)
    bangs, creases = _bangs(rng, p["fringe_length"], p["fringe_part"])
    # The bangs cast a shadow on the forehead: the same outline, shifted down, in a darker skin tone.
    pen.polygon(bangs + np.array([0.0, 0.07]), skin_shadow)
    pen.line(outline, skin_line, 0.028, closed=True)  # keep the outline over the shadow

    if p["blush"] > 0.45:
        strength = (p["blush"] - 0.45) / 0.55
        blush = _mix(skin, (255, 112, 132), 0.25 + 0.35 * strength)
        for s in (-1.0, 1.0):
            pen.ellipse(s * 0.6, 0.56, 0.2, 0.085, blush, n=16)
            if strength > 0.55:
                for k in (-1, 0, 1):
                    x = s * 0.6 + 0.08 * k
                    pen.line(np.array([(x + 0.03, 0.52), (x - 0.03, 0.6)]), _mix(skin, (214, 70, 96), 0.7), 0.018)
    pen.line(np.array([(0.02, 0.5), (-0.015, 0.55)]), skin_line, 0.025)  # nose: a tiny shadow
    _draw_mouth(pen, ATTRIBUTES["mouth"][p["mouth"]], 0.2 + 0.64 * (chin_y - 0.2))

    # Eyes and eyebrows.
    ey = 0.22
    w, h = 0.54 * p["eye_size"], 0.6 * p["eye_size"]
    for side in (-1.0, 1.0):
        ex = side * 0.44 * p["eye_spacing"]
        _draw_eye(pen, ex, ey, w, h, side, iris, p["gaze"], lash)
        inner_y = ey - 0.5 * h - 0.14 + 0.05 * p["brow_tilt"]
        brow = _bezier((ex - side * 0.17, inner_y), (ex + side * 0.05, ey - 0.5 * h - 0.24),
                       (ex + side * 0.26, ey - 0.5 * h - 0.1), 8)
        pen.line(brow, hair_dark, 0.045)

    # Hair in front of the face: side locks, then the cap with its bangs, creases and highlight.
    for mirror in (False, True):
        lock = _side_lock(style)
        lock = _mirror(lock) if mirror else lock
        pen.polygon(lock, hair)
        pen.line(lock, hair_line, 0.03, closed=True)
    pen.polygon(bangs, hair)
    pen.line(bangs, hair_line, 0.03, closed=True)
    for crease in creases:
        pen.line(crease, hair_dark, 0.028)
    # 'Angel ring' highlight: a band across the crown with a saw-tooth lower edge.
    angles = np.linspace(math.pi * 1.2, math.pi * 1.8, 13)
    upper = np.stack([0.86 * np.cos(angles), -0.22 + 0.84 * np.sin(angles)], axis=1)
    r_low = np.where(np.arange(13) % 2 == 0, 0.7, 0.77)
    lower = np.stack([r_low * np.cos(angles), -0.22 + r_low * 0.97 * np.sin(angles)], axis=1)
    pen.polygon(np.concatenate([upper, lower[::-1]], axis=0), hair_light)
    if style in ("twin_tails", "bun"):
        xs = (-1.02, 1.02) if style == "twin_tails" else (0.0,)
        for x in xs:
            _draw_ribbon(pen, x, -1.0 if style == "twin_tails" else -1.12, accent)
    _draw_strands(pen, rng, _mix(hair, hair_line, 0.25))
    return img


# ----------------------------------------------------------------------------------------------
# Rendering and the cached dataset
# ----------------------------------------------------------------------------------------------
def _check_params(params: Mapping) -> tuple[dict[str, list], int]:
    """Validate a recipe and turn it into Python lists (fast per-face access)."""
    if not isinstance(params, Mapping):
        raise ValueError(f"params must be a dict like sample_params(n) returns, got {type(params).__name__}.")
    missing = [k for k in _REQUIRED_KEYS if k not in params]
    if missing:
        raise ValueError(
            f"params is missing {', '.join(missing)}. Start from sample_params(n, seed) and edit its "
            "entries rather than building the dict by hand."
        )
    lists: dict[str, list] = {}
    n = None
    for key in _REQUIRED_KEYS:
        value = torch.as_tensor(params[key])
        if value.dim() != 1:
            raise ValueError(f"params[{key!r}] must be 1-D (one value per face), got shape {tuple(value.shape)}.")
        if n is None:
            n = value.numel()
        elif value.numel() != n:
            raise ValueError(f"params[{key!r}] has {value.numel()} values but params[{_REQUIRED_KEYS[0]!r}] has {n}.")
        if key in ATTRIBUTES or key == _SEED_KEY:
            if value.is_floating_point() or value.is_complex() or value.dtype == torch.bool:
                raise ValueError(f"params[{key!r}] must hold integers, got dtype {value.dtype}.")
        elif not torch.isfinite(value.double()).all():
            raise ValueError(f"params[{key!r}] contains NaN or infinite values.")
        if key in ATTRIBUTES and value.numel():
            classes = ATTRIBUTES[key]
            bad = ((value < 0) | (value >= len(classes))).nonzero().flatten()
            if bad.numel():
                i = int(bad[0])
                raise ValueError(
                    f"params[{key!r}][{i}] = {int(value[i])} is out of range: {key} has {len(classes)} "
                    f"classes (0..{len(classes) - 1}: {', '.join(classes)})."
                )
        lists[key] = value.tolist()
    if not n:
        raise ValueError("params holds no faces (length 0); ask for at least one face.")
    return lists, n


def _render_uint8(params: Mapping, size: int, progress: bool | None = None) -> torch.Tensor:
    """Render a recipe to uint8 images, shape (n, 3, size, size)."""
    size = _check_int("size", size, 8)
    lists, n = _check_params(params)
    big = size * _SUPERSAMPLE
    out = np.empty((n, size, size, 3), dtype=np.uint8)  # (n, H, W, 3), Pillow's layout
    if progress is None:
        progress = n > _PROGRESS_ABOVE
    indices = range(n)
    if progress:
        from tqdm.auto import tqdm

        indices = tqdm(indices, desc=f"drawing {n} anime faces at {size}px", unit="face")
    for i in indices:
        face = {k: v[i] for k, v in lists.items()}
        img = _draw_face(face, big)
        out[i] = np.asarray(img.reduce(_SUPERSAMPLE))  # mean of each 4x4 block (box filter)
    return torch.from_numpy(out).permute(0, 3, 1, 2).contiguous()  # (n, 3, size, size)


def _to_float(images: torch.Tensor) -> torch.Tensor:
    """uint8 0..255 -> float32 -1..1 (255 maps exactly to 1.0)."""
    return images.float().div_(127.5).sub_(1.0)


def render_faces(params: Mapping, size: int = 64) -> torch.Tensor:
    """Draw the faces described by ``params`` (see :func:`sample_params`).

    Returns float32 images in [-1, 1], shape (n, 3, size, size). Deterministic: the same recipe
    gives the same pixels, and each face depends only on its own entries.
    """
    return _to_float(_render_uint8(params, size))


def _cache_path(n: int, size: int, seed: int):
    return cache_dir("faces") / f"anime_n{n}_size{size}_seed{seed}_v{GENERATOR_VERSION}.pt"


def _load_cached(path, n: int, size: int) -> torch.Tensor | None:
    """The cached uint8 renders, or None when the file is absent, unreadable or not what we expect."""
    if not path.is_file():
        return None
    try:
        payload = safe_load(path)
    except (ValueError, FileNotFoundError, OSError) as err:
        warnings.warn(f"Ignoring an unreadable face cache; drawing the faces again. ({err})", stacklevel=3)
        return None
    images = payload.get("images") if isinstance(payload, dict) else None
    if (
        not isinstance(images, torch.Tensor)
        or images.dtype != torch.uint8
        or tuple(images.shape) != (n, 3, size, size)
        or payload.get("version") != GENERATOR_VERSION
    ):
        warnings.warn(f"The face cache {path} does not hold the expected renders; drawing them again.", stacklevel=3)
        return None
    return images


def procedural_faces(n: int, size: int = 64, seed: int = 0) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """The procedural anime-face dataset: ``n`` faces drawn from ``sample_params(n, seed)``.

    Returns ``(images, labels)``: images float32 in [-1, 1] of shape (n, 3, size, size), and a dict of
    the five attributes as int64 tensors of shape (n,) (class names in :data:`ATTRIBUTES`).
    Renders are cached as uint8 under ``cache_dir("faces")``, keyed by (n, size, seed,
    GENERATOR_VERSION); a broken cache file is drawn again. 64x64 floats take 48 KiB a face, so
    50,000 faces take about 2.4 GB in memory.
    """
    n = _check_int("n", n, 1)
    size = _check_int("size", size, 8)
    seed = _check_int("seed", seed, -(2**63))
    params = sample_params(n, seed)
    labels = {k: params[k] for k in ATTRIBUTES}
    path = _cache_path(n, size, seed)
    images = _load_cached(path, n, size)
    if images is None:
        images = _render_uint8(params, size)
        atomic_save({"images": images, "version": GENERATOR_VERSION, "seed": seed}, path)
    return _to_float(images), labels
