"""A painting domain made offline: a deterministic painterly transform, and unpaired photo/painting crops.

Lecture 12 translates photos into paintings with a generator that only ever sees small patches. Its
painting domain, when no real Van Gogh scans are at hand (``data_scripts/get_vangogh.py``), is a
deterministic *painterly transform* of bundled photos: ``painterly(image)`` is an ordinary function of
a tensor, so the painterly version of any photo is known exactly and a translation can be scored
against it. Lecture 14 may use ``painterly(photo("chelsea"))`` as a style image.

The transform, in [0, 1] space, all in pixels of the image it is given (so its strokes have a fixed
width in pixels, like a brush on a canvas of that size):

1. **edge-preserving smoothing**: a Kuwahara filter (each pixel takes the mean colour of whichever of
   its four (r+1) x (r+1) corner windows has the least luminance variance: flat areas blur, edges stay);
2. **posterise**: each channel rounded to ``levels`` values (flat patches of paint);
3. **dark strokes along edges**: the Sobel magnitude of the smoothed luminance, soft-thresholded and
   widened by one pixel, darkens the image (outlines, as a painter's contour strokes);
4. **canvas texture**: a fixed weave (product of sines, period ``weave`` pixels) plus fine noise from
   a fixed-seed torch generator, multiplied in.

Domains (the issue's offline recipe): A = photos china, rocket, coffee, motorcycle_left; B =
painterly(chelsea, flower, hubble_deep_field, immunohistochemistry), made at each photo's bundled
resolution (the "scans"); held out: astronaut, whose painterly version is the ground truth. Training
crops of 2S x 2S are cut at random from images first downscaled by ``factor``, so that a crop still
holds structure (a 64 px crop of a 1000 px scan is mostly flat colour).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor

from ..layers import check_odd_window, luminance
from . import DataSet
from .photos import photo

PHOTOS_A = ("china", "rocket", "coffee", "motorcycle_left")
PHOTOS_B = ("chelsea", "flower", "hubble_deep_field", "immunohistochemistry")
HELDOUT = "astronaut"


# --- The transform ---------------------------------------------------------------------------------
def kuwahara(x: Tensor, radius: int) -> Tensor:
    """Kuwahara filter of (N, 3, H, W) images in [0, 1] (reflect-padded; H, W > radius)."""
    k = radius + 1
    pad = F.pad(x, (radius,) * 4, mode="reflect")  # (N, 3, H + 2r, W + 2r)
    lum = luminance(pad)
    mean = F.avg_pool2d(pad, k, stride=1)  # window starting at padded (i, j): rows i-r..i of x
    lmean = F.avg_pool2d(lum, k, stride=1)
    lvar = F.avg_pool2d(lum * lum, k, stride=1) - lmean**2  # (N, 1, H + r, W + r)
    h, w = x.shape[-2:]
    # the four corner windows of pixel (i, j): start at (i, j), (i, j+r), (i+r, j), (i+r, j+r)
    best_mean, best_var = None, None
    for a, b in ((0, 0), (0, radius), (radius, 0), (radius, radius)):
        m, v = mean[..., a:a + h, b:b + w], lvar[..., a:a + h, b:b + w]
        if best_mean is None:
            best_mean, best_var = m, v
        else:  # strictly smaller variance wins, so ties keep the first window (deterministic)
            better = v < best_var
            best_mean, best_var = torch.where(better, m, best_mean), torch.where(better, v, best_var)
    return best_mean


def sobel_magnitude(lum: Tensor) -> Tensor:
    """|grad| of (N, 1, H, W) by Sobel kernels (replicate padding), same size."""
    kx = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]], dtype=lum.dtype, device=lum.device) / 4
    kernels = torch.stack([kx, kx.T]).unsqueeze(1)  # (2, 1, 3, 3)
    g = F.conv2d(F.pad(lum, (1, 1, 1, 1), mode="replicate"), kernels)
    return g.pow(2).sum(1, keepdim=True).sqrt()


def canvas_texture(h: int, w: int, weave: float = 8.0, seed: int = 1889) -> Tensor:
    """(1, 1, h, w) multiplicative canvas pattern around 0: a weave of period ``weave`` px plus grain.

    Anchored at pixel (0, 0) and drawn from a fixed-seed CPU generator: the same for every call.
    """
    y = torch.arange(h, dtype=torch.float32).view(h, 1)
    x = torch.arange(w, dtype=torch.float32).view(1, w)
    threads = torch.sin(2 * torch.pi * x / weave) * torch.sin(2 * torch.pi * y / weave)
    grain = torch.randn(h, w, generator=torch.Generator().manual_seed(seed))
    return (0.7 * threads + 0.3 * grain).view(1, 1, h, w)


@dataclass(frozen=True)
class PainterlyStyle:
    """The transform's knobs; the defaults make the course's painting domain (pixels at the scan's size)."""

    radius: int = 3  # Kuwahara corner window (r+1) x (r+1)
    levels: int = 6  # values per channel after posterising
    edge_low: float = 0.04  # Sobel magnitude (luminance in [0, 1]) where strokes start ...
    edge_high: float = 0.12  # ... and where they are fully dark
    stroke_darkness: float = 0.75  # 1 = black strokes
    stroke_width: int = 3  # max-pool window that widens the strokes (odd, 1 = no widening)
    canvas: float = 0.10  # texture amplitude (multiplicative)
    weave: float = 8.0  # texture period in pixels


def _strokes(smooth: Tensor, style: PainterlyStyle) -> Tensor:
    """(N, 1, H, W) stroke strength in [0, 1] from the smoothed image: soft-thresholded edges, widened."""
    mag = sobel_magnitude(luminance(smooth))
    edges = ((mag - style.edge_low) / (style.edge_high - style.edge_low)).clamp(0, 1)
    if style.stroke_width > 1:
        edges = F.max_pool2d(edges, style.stroke_width, stride=1, padding=style.stroke_width // 2)
    return edges


def stroke_map(image: Tensor, style: PainterlyStyle = PainterlyStyle()) -> Tensor:
    """Where ``painterly`` draws its dark strokes on (3, H, W) ``image`` in [-1, 1]: (1, H, W) in [0, 1]
    (1 = darkened by ``stroke_darkness``). For measuring whether a translation learnt them."""
    x = ((image.float().clamp(-1, 1) + 1) / 2).unsqueeze(0)
    return _strokes(kuwahara(x, style.radius), style)[0]


def painterly(image: Tensor, style: PainterlyStyle = PainterlyStyle()) -> Tensor:
    """The painterly version of (3, H, W) or (N, 3, H, W) images in [-1, 1]; same shape, in [-1, 1].

    Deterministic: the same image always gives the same painting (no global RNG is touched).
    """
    if image.dim() not in (3, 4) or image.shape[-3] != 3:
        raise ValueError(f"painterly expects (3, H, W) or (N, 3, H, W) RGB images, got {tuple(image.shape)}.")
    if min(image.shape[-2:]) <= style.radius + 1:
        raise ValueError(f"Image of {image.shape[-2]}x{image.shape[-1]} is too small for the painterly "
                         f"transform (radius {style.radius}): give at least {style.radius + 2} px per side.")
    x = (image if image.dim() == 4 else image.unsqueeze(0)).float()
    x = ((x.clamp(-1, 1) + 1) / 2)  # [0, 1]
    smooth = kuwahara(x, style.radius)
    q = style.levels - 1
    poster = torch.round(smooth * q) / q
    out = poster * (1 - style.stroke_darkness * _strokes(smooth, style))
    tex = canvas_texture(*x.shape[-2:], weave=style.weave).to(x.device)
    out = (out * (1 + style.canvas * tex)).clamp(0, 1) * 2 - 1
    return out.to(image.dtype) if image.dim() == 4 else out[0].to(image.dtype)


# --- The unpaired domains ----------------------------------------------------------------------------
def downscale(image: Tensor, factor: float) -> Tensor:
    """Shrink (C, H, W) by ``factor`` (antialiased bilinear); factor 1 returns the image."""
    if factor == 1:
        return image
    h, w = image.shape[-2:]
    size = (max(1, round(h / factor)), max(1, round(w / factor)))
    return F.interpolate(image.unsqueeze(0), size=size, mode="bilinear", align_corners=False, antialias=True)[0]


def activity(crops: Tensor) -> Tensor:
    """(N,) mean absolute step between neighbouring pixels' luminance in each (N, 3, H, W) crop: how much
    structure a crop holds (0 for flat colour; a black sky of sparse stars is about 0.005, a cat's fur
    about 0.1, on the [-1, 1] scale)."""
    lum = luminance(crops)
    return ((lum[..., 1:, :] - lum[..., :-1, :]).abs().mean((1, 2, 3))
            + (lum[..., 1:] - lum[..., :-1]).abs().mean((1, 2, 3))) / 2


def close_dark_lines(images: Tensor, width: int) -> Tensor:
    """Morphological closing of (N, C, H, W) images: each channel's maximum, then minimum, over a
    ``width`` x ``width`` window (odd; the image's border is not padded with any colour). Dark lines and
    dots narrower than ``width`` are filled with the colour around them; bright areas, and dark areas at
    least ``width`` wide, keep their values; no pixel gets darker. A painting with its strokes closed
    away is the "negative" the siamese-hd recipe shows D as a fake (after CartoonGAN's edge-smoothed
    cartoons, Chen et al. 2018)."""
    check_odd_window(width, "close_dark_lines")
    r = width // 2
    dilated = F.max_pool2d(images, width, stride=1, padding=r)  # max_pool pads with -inf: the border is ignored
    return -F.max_pool2d(-dilated, width, stride=1, padding=r)


def _crop_at_random(image: Tensor, size: int, generator: torch.Generator) -> Tensor:
    h, w = image.shape[-2:]
    top = int(torch.randint(h - size + 1, (1,), generator=generator))
    left = int(torch.randint(w - size + 1, (1,), generator=generator))
    return image[:, top:top + size, left:left + size]


def _active_crop(images: list[Tensor], size: int, generator: torch.Generator, min_activity: float,
                 max_tries: int) -> Tensor:
    best, best_act = None, -1.0
    for _ in range(max_tries):
        c = _crop_at_random(images[int(torch.randint(len(images), (1,), generator=generator))], size, generator)
        a = float(activity(c[None]))
        if a >= min_activity:
            return c
        if a > best_act:
            best, best_act = c, a
    return best


def random_crops(images: list[Tensor], n: int, size: int, generator: torch.Generator, flip: bool = True,
                 min_activity: float = 0.0, max_tries: int = 64) -> Tensor:
    """n random size x size crops (N, 3, size, size), each from a random image, random h-flips.

    ``min_activity`` > 0 redraws (image and place) any crop whose ``activity`` is below it, up to
    ``max_tries`` draws per crop, after which the most active crop drawn is kept: the article's worry
    about crops of flat colour, applied per crop (an image that is mostly flat is then drawn less)."""
    for i, im in enumerate(images):
        if min(im.shape[-2:]) < size:
            raise ValueError(f"Image {i} is {im.shape[-2]}x{im.shape[-1]}, smaller than the {size} px crop: "
                             "lower the downscale factor or the tile size.")
    if min_activity > 0:
        out = [_active_crop(images, size, generator, min_activity, max_tries) for _ in range(n)]
    else:  # the plain draw (its order of random numbers is what every recorded run used)
        which = torch.randint(len(images), (n,), generator=generator)
        out = [_crop_at_random(images[k], size, generator) for k in which.tolist()]
    crops = torch.stack(out)
    if flip:
        mirror = torch.rand(n, generator=generator) < 0.5
        crops[mirror] = crops[mirror].flip(-1)
    return crops


def permute_channels(crops: Tensor, generator: torch.Generator) -> Tensor:
    """Each (3, H, W) crop with its colour channels in a random order (one of the 6 permutations)."""
    perms = torch.tensor([[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]])
    idx = perms[torch.randint(6, (crops.shape[0],), generator=generator)]  # (N, 3)
    return crops.gather(1, idx.view(-1, 3, 1, 1).expand_as(crops))


def rotate_quarter_turns(crops: Tensor, generator: torch.Generator) -> Tensor:
    """Each square crop turned by a random multiple of 90 degrees."""
    k = torch.randint(4, (crops.shape[0],), generator=generator).tolist()
    return torch.stack([c.rot90(t, (-2, -1)) for c, t in zip(crops, k)])


class CropBatches:
    """Endless batches (A crops, B crops) for ``Trainer``: fresh random crops every call.

    ``permute_colours``: shuffle each crop's RGB channels (both domains alike), so that the two
    domains' palettes cannot tell them apart and D has to judge strokes and texture.
    ``min_activity``: redraw crops with less structure (``random_crops``). ``rotate``: turn each crop
    by a random multiple of 90 degrees. Options measured in benchmarks/results/siamese_hd_cpu.md, none
    adopted. The only state is the trainer's generator, so a resumed run draws the same crops.
    """

    def __init__(self, domain_a: list[Tensor], domain_b: list[Tensor], crop: int, batch_size: int,
                 permute_colours: bool = False, min_activity: float = 0.0, rotate: bool = False) -> None:
        self.a, self.b, self.crop, self.batch_size = domain_a, domain_b, crop, batch_size
        self.permute_colours, self.min_activity, self.rotate = permute_colours, min_activity, rotate

    def next(self, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        a = random_crops(self.a, self.batch_size, self.crop, generator, min_activity=self.min_activity)
        b = random_crops(self.b, self.batch_size, self.crop, generator, min_activity=self.min_activity)
        if self.permute_colours:
            a, b = permute_channels(a, generator), permute_channels(b, generator)
        if self.rotate:
            a, b = rotate_quarter_turns(a, generator), rotate_quarter_turns(b, generator)
        return a, b


@dataclass
class PaintingDomains(DataSet):
    """Unpaired photos (A) and paintings (B) at the training resolution, plus the held-out pair.

    ``images`` holds a fixed preview of A crops and ``labels["B"]`` one of B crops (what the generic
    code and figures expect of a DataSet); training draws fresh crops through ``batches``.
    """

    domain_a: list[Tensor] = field(default_factory=list)  # (3, h, w) photos, downscaled by factor
    domain_b: list[Tensor] = field(default_factory=list)  # (3, h, w) paintings, downscaled by factor
    heldout: Tensor | None = None  # the held-out photo, downscaled by factor
    heldout_painting: Tensor | None = None  # its painterly version (ground truth), same size
    heldout_strokes: Tensor | None = None  # (1, h, w) where that version's dark strokes are (stroke_map), same size
    crop: int = 64
    factor: float = 1.0

    def batches(self, batch_size: int, permute_colours: bool = False, min_activity: float = 0.0,
                rotate: bool = False) -> CropBatches:
        return CropBatches(self.domain_a, self.domain_b, self.crop, batch_size, permute_colours, min_activity, rotate)


@functools.lru_cache(maxsize=16)
def painting_scan(name: str, style: PainterlyStyle = PainterlyStyle(), max_side: int | None = None) -> Tensor:
    """painterly(photo) at the photo's bundled resolution (or shrunk to ``max_side`` first): the
    offline stand-in for a painting scan. Cached per process (about 0.3 s per photo on 2 cores); do
    not modify the returned tensor in place."""
    return painterly(photo(name, max_side=max_side), style)


def painted_photos(factor: float, style: PainterlyStyle = PainterlyStyle(), max_side: int | None = None,
                   names=PHOTOS_A) -> list[Tensor]:
    """The painterly versions of the training photos at the training scale (painterly at full size, then
    downscaled, like every painting here), aligned with ``photo_painting_crops``'s ``domain_a``. What
    training never sees: for references and diagnoses only."""
    return [downscale(painting_scan(n, style, max_side=max_side), factor) for n in names]


def _folder_images(folder, max_side: int) -> list[Tensor]:
    from .folders import ImageDataError, list_image_files

    files, _ = list_image_files(folder)
    if not files:
        raise ImageDataError(f"No images in {folder}; run data_scripts/get_vangogh.py or point to a folder of images.")
    return [photo(str(f), max_side=max_side) for f in files]


def photo_painting_crops(crop: int = 64, factor: float = 2.0, n_preview: int = 16, seed: int = 0,
                         photos_a=PHOTOS_A, photos_b=PHOTOS_B, heldout: str = HELDOUT,
                         photos_dir=None, paintings_dir=None, max_side: int | None = None) -> PaintingDomains:
    """The lecture's unpaired domains. ``crop`` is 2S (what D sees); ``factor`` the downscale first.

    Paintings are made at full resolution and then downscaled, exactly like the held-out ground truth,
    so the training paintings and the evaluation target go through the same pipeline. ``max_side``
    shrinks every source image first (the smoke budget uses it; folder images default to 1280 px).
    ``photos_dir`` / ``paintings_dir``: folders of real images (``data_scripts/get_vangogh.py``) that
    replace domain A / B; with real paintings there is no ground truth (``heldout_painting`` is None).
    """
    if crop < 8:
        raise ValueError(f"crop must be at least 8 px, got {crop}.")
    if factor < 1:
        raise ValueError(f"factor is a downscale factor (>= 1), got {factor}.")
    raw_a = _folder_images(photos_dir, max_side or 1280) if photos_dir else [photo(n, max_side=max_side) for n in photos_a]
    raw_b = (_folder_images(paintings_dir, max_side or 1280) if paintings_dir
             else [painting_scan(n, max_side=max_side) for n in photos_b])
    domain_a = [downscale(x, factor) for x in raw_a]
    domain_b = [downscale(x, factor) for x in raw_b]
    held = photo(heldout, max_side=max_side)
    g = torch.Generator().manual_seed(seed)
    name_a = f"photos in {photos_dir}" if photos_dir else f"photos {', '.join(photos_a)}"
    name_b = f"paintings in {paintings_dir}" if paintings_dir else f"painterly({', '.join(photos_b)})"
    shrunk = f"shrunk to {max_side} px, " if max_side else ""
    return PaintingDomains(
        name="painterly",
        images=random_crops(domain_a, n_preview, crop, g),
        labels={"B": random_crops(domain_b, n_preview, crop, g)},
        source=f"A: {name_a}; B: {name_b}; held out: {heldout}; all {shrunk}downscaled x{factor:g}, {crop} px crops",
        procedural=not (photos_dir or paintings_dir),
        domain_a=domain_a, domain_b=domain_b,
        heldout=downscale(held, factor),
        heldout_painting=None if paintings_dir else downscale(painterly(held), factor),
        heldout_strokes=None if paintings_dir else downscale(stroke_map(held), factor),
        crop=crop, factor=factor,
    )
