"""High-resolution translation with a patch generator and a Siamese discriminator.

After Marco Pasini, *Style transfer of high-resolution images with Siamese GANs* (2019 article), whose
losses follow TraVeLGAN (Amodio & Krishnaswamy, *TraVeLGAN: Image-to-image Translation by
Transformation Vector Learning*, CVPR 2019), and the same author's MelGAN-VC (Pasini 2019, audio).

The idea: G only ever sees S x S patches, so its memory and cost do not grow with the image. During
training a **Combo model** cuts each 2S x 2S crop into its four S x S quarters, translates every quarter
independently with G and puts them back; the **Siamese discriminator** D judges the reassembled 2S x 2S
image, so any seam, jump of colour or border artefact between quarters is something D can see and G
must remove. At inference, ``translate_full`` tiles an image of any size into S x S tiles, translates
them (batched) and reassembles them: a G trained this way tiles without visible borders.

D maps an image to a vector of length LENVEC (not a probability): real paintings are kept near the
origin, translations pushed at least ``margin`` away, and the vector between two photos must point the
same way as the vector between their translations (TraVeL loss; see ``course_lib.losses``).

What the article does not fix, and what we chose
------------------------------------------------
* The article gives its method and losses but no code for images. The layer layouts below are ours:
  a small U-Net for G (two stride-2 stages, residual blocks at 1/4 size, nearest-upsample + conv
  decoder with skip connections), and for D strided 4x4 convolutions down to 4x4, then a linear layer
  to LENVEC.
* G predicts a *change*: ``G(x) = tanh(atanh(0.99 x) + r(x))`` with the last layer of r initialised
  small, so G starts near the identity and training only has to learn the style. Our choice, for
  short CPU runs; the article's G maps images directly.
* G's padding: reflect by default, ``padding="zeros"`` (Keras' ``"same"``, as in the author's MelGAN-VC
  code) at the cpu budget. Zeros tell every layer where the tile ends. A G trained on single crops
  then paints its edges its own way (a frame along each tile), while the Combo's D, which sees four
  tiles side by side, teaches G what to do at its border. Reflect padding hides the border from G, so
  G cannot learn anything about it: at the cpu budget with the detail-layer D below, the Combo's
  tiles then differed by colour casts (seam scores 1.14-1.27 over four seeds) and the naive model's
  seams were no worse. With zeros and two D updates per G update, seams 1.03 / 1.00 against the
  naive model's 1.12 / 1.27 (seeds 0 / 1; benchmarks/results/siamese_hd_cpu.md). The gpu budget,
  measured on an H100 with reflect padding, keeps it.
* D judges the image's **detail layer**, ``x`` minus its mean over ``detail_window`` px (7 by default,
  15 at the cpu budget; ``d_sees="detail"``; ``"image"`` gives D the pixels). The offline domains
  differ in content and palette (galaxies, stained cells, a cat and a flower against buildings, a
  rocket, a cup and a motorbike): a D that sees colours pushes G to recolour photos with the
  paintings' palette, and in our runs the translations ended *farther* from the held-out photo's
  painterly version than the photo itself (style distance worse in every run, by up to 130%). The detail layer keeps what the painting style is made of, strokes, edges,
  texture, and a seam between tiles is a detail too (a step between neighbouring pixels), so D still
  sees it. The price: the painting's darker overall brightness is in the base layer too, and the style
  distance a detail-layer D can ask for is capped near 44% (``recipes.siamese_hd_diagnosis.style_by_layer``).
  ``d_sees="detail+luma"`` adds the base layer's luminance as a fourth channel, brightness without the
  palette: at the cpu budget it brought the translations' brightness to the painting's and the style
  closed to 42% / 44% (seeds 0 / 1), but by dimming the photo, with seams of 1.44 / 1.31. An option,
  not the recipe.
* An identity term for G, ``identity_weight * |G(B) - B|`` (L1, on painting crops through the Combo):
  borrowed from CycleGAN (Zhu et al. 2017, section 5.2, weight 0.5 x its cycle weight 10 = 5), which
  used it to keep a painting-to-photo translator from shifting colours. Here it anchors the colours
  that a detail-layer D no longer sees. It acts on paintings only, so it is not a pixel loss between a
  photo and its translation: G stays free to change geometry.
* No batch statistics anywhere (no BatchNorm in G or D): a tile's translation must not depend on
  which other tiles share its batch, and D's vectors are compared across the batch.
* Borrowed from MelGAN-VC, not from the article: LENVEC 128, margin 2.0, spectral norm in D, Adam 2e-4
  with beta1 0.5, batch 16, and the Siamese/TraVeL weight 10. Borrowed from TraVeLGAN and MelGAN-VC:
  the squared-distance term beside the cosine, and the margin on ||D(A1) - D(A2)||. MelGAN-VC also
  puts spectral norm in G: ``g_spectral_norm`` does, on every convolution but the last, whose small
  start (``init_gain``) normalising would undo. An option, off: at the cpu budget it raised the Combo's
  seams to 1.40 / 1.32 and cut the style closed to 20% / 9% (seeds 0 / 1; siamese_hd_cpu.md).
* ``travel_mse_weight`` scales that squared-distance term inside the TraVeL weight (1: as borrowed).
  In TraVeLGAN the Siamese network and the adversarial discriminator are two networks; here they are
  one, so the term asks the translations to stay as spread out in D's space as the photos (the pair
  margin keeps those at least ``margin`` apart) while D1 pulls every painting to the origin. At the
  cpu budget, without it the Combo closed 36% of the style distance on average over seeds 0-3,
  against 32% with it: within what seeds move, so not adopted (benchmarks/results/siamese_hd_cpu.md).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils import spectral_norm

from ..layers import check_odd_window, luminance, pad_to_multiple  # noqa: F401  (pad_to_multiple: public here too, tiling pads with it)


MIN_SIDE = 8  # G's smallest input side: 2 px at its 1/4 level, the least reflect padding accepts


@dataclass
class SiameseHDConfig:
    """Sizes and optimiser. The article gives S = 64 at its scale; the cpu budget uses S = 32 and
    narrow widths (about 0.2-0.4 s a step on 2 cores) so a run fits in minutes."""

    tile: int = 64  # S: G's patch side; D sees 2S x 2S (the Combo's assembly)
    g_width: int = 32  # our choice (the article publishes no layer sizes)
    g_blocks: int = 2  # residual blocks at 1/4 resolution (our choice)
    d_width: int = 32  # our choice
    lenvec: int = 128  # borrowed from MelGAN-VC (vector length of the Siamese D)
    margin: float = 2.0  # borrowed from MelGAN-VC (its delta)
    travel_weight: float = 10.0  # Siamese/TraVeL weight: MelGAN-VC and TraVeLGAN both use 10
    travel_mse_weight: float = 1.0  # the squared-distance term's share inside it (1: as in TraVeLGAN)
    lr: float = 2e-4  # borrowed from MelGAN-VC / TraVeLGAN (G's, and D's unless lr_d is given; the cpu budget: 1e-3)
    lr_d: float | None = None  # D's own learning rate (None: lr); our option
    betas: tuple[float, float] = (0.5, 0.999)  # borrowed from MelGAN-VC / TraVeLGAN
    batch_size: int = 16  # borrowed from MelGAN-VC / TraVeLGAN
    init_gain: float = 0.1  # scale of G's last layer at init (near-identity start; our choice)
    padding: str = "reflect"  # G's convolutions: "reflect" (ours) or "zeros" (Keras' "same", the author's; the cpu budget)
    d_sees: str = "detail"  # D's input: "detail" (x - its local mean; our choice), "detail+luma" or "image"
    detail_window: int = 7  # side of the local mean removed from D's input (the cpu budget: 15)
    identity_weight: float = 5.0  # |G(B) - B| for G: borrowed from CycleGAN (0.5 x cycle weight 10)
    g_spectral_norm: bool = False  # spectral norm on G's convolutions but its last: borrowed from MelGAN-VC


def _conv(cin: int, cout: int, k: int, stride: int, padding: str) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, k, stride, 1, padding_mode=padding)


def _down(cin: int, cout: int, padding: str) -> nn.Sequential:
    return nn.Sequential(_conv(cin, cout, 4, 2, padding), nn.LeakyReLU(0.2, True))


class _Residual(nn.Module):
    def __init__(self, ch: int, padding: str) -> None:
        super().__init__()
        self.body = nn.Sequential(_conv(ch, ch, 3, 1, padding), nn.LeakyReLU(0.2, True), _conv(ch, ch, 3, 1, padding))

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


class Generator(nn.Module):
    """S x S patch -> S x S patch (fully convolutional, so it also runs on a whole image whose sides
    are multiples of 4). A U-Net: full, 1/2 and 1/4 resolution, skips concatenated on the way up.
    About 13k multiply-adds per pixel at width 16 (most of it at 1/2 and 1/4 resolution)."""

    def __init__(self, cfg: SiameseHDConfig) -> None:
        super().__init__()
        w, pad = cfg.g_width, cfg.padding
        if pad not in ("zeros", "reflect", "replicate"):
            raise ValueError(f"padding must be 'zeros', 'reflect' or 'replicate', got {pad!r}.")
        self.enc0 = nn.Sequential(_conv(3, w, 3, 1, pad), nn.LeakyReLU(0.2, True))  # (B, w, S, S)
        self.enc1 = _down(w, 2 * w, pad)  # (B, 2w, S/2, S/2)
        self.enc2 = _down(2 * w, 4 * w, pad)  # (B, 4w, S/4, S/4)
        self.blocks = nn.Sequential(*[_Residual(4 * w, pad) for _ in range(cfg.g_blocks)])
        # decoder: convolve *before* each upsampling, so no wide convolution runs at full resolution
        self.dec2 = nn.Sequential(_conv(4 * w, 2 * w, 3, 1, pad), nn.LeakyReLU(0.2, True))  # at S/4
        self.dec1 = nn.Sequential(_conv(4 * w, w, 3, 1, pad), nn.LeakyReLU(0.2, True))  # at S/2
        self.head = _conv(2 * w, 3, 3, 1, pad)  # at S
        with torch.no_grad():  # near-identity start: r(x) small
            self.head.weight.mul_(cfg.init_gain)
            self.head.bias.zero_()
        if cfg.g_spectral_norm:  # MelGAN-VC's G; not the head: normalising it would undo init_gain's small start
            for m in self.modules():
                if isinstance(m, nn.Conv2d) and m is not self.head:
                    spectral_norm(m)

    def forward(self, x: Tensor) -> Tensor:
        if x.shape[-1] % 4 or x.shape[-2] % 4 or min(x.shape[-2:]) < MIN_SIDE:
            raise ValueError(f"G takes images whose sides are multiples of 4 and at least {MIN_SIDE} (its 1/4 "
                             f"level must be 2 px for reflect padding), got {tuple(x.shape[-2:])}; translate_full "
                             "needs such a tile; translate_whole pads any size.")
        e0 = self.enc0(x)  # (B, w, S, S)
        e1 = self.enc1(e0)  # (B, 2w, S/2, S/2)
        h = self.dec2(self.blocks(self.enc2(e1)))  # (B, 2w, S/4, S/4)
        h = F.interpolate(h, scale_factor=2, mode="nearest")  # (B, 2w, S/2, S/2)
        h = F.interpolate(self.dec1(torch.cat([h, e1], 1)), scale_factor=2, mode="nearest")  # (B, w, S, S)
        r = self.head(torch.cat([h, e0], 1))  # (B, 3, S, S): the change, in tanh's input space
        return torch.tanh(torch.atanh(0.99 * x.clamp(-1, 1)) + r)


D_VIEWS = ("detail", "detail+luma", "image")  # what D is shown of an image (SiameseHDConfig.d_sees)


class SiameseDiscriminator(nn.Module):
    """(B, 3, size, size) -> (B, LENVEC): the detail layer (``d_sees="detail"``; with ``"detail+luma"``
    also the luminance of the base layer, a fourth channel), strided 4x4 convs (spectral norm) down to
    4x4, then linear."""

    def __init__(self, cfg: SiameseHDConfig, image_size: int | None = None) -> None:
        super().__init__()
        size = 2 * cfg.tile if image_size is None else image_size
        if cfg.d_sees not in D_VIEWS:
            raise ValueError(f"d_sees must be one of {D_VIEWS}, got {cfg.d_sees!r}.")
        self.detail_window = cfg.detail_window if cfg.d_sees != "image" else None
        self.sees_luma = cfg.d_sees == "detail+luma"
        n_down = int(round(math.log2(size / 4)))
        if size < 8 or 4 * 2**n_down != size:
            raise ValueError(f"The Siamese D needs a power-of-two input side of at least 8, got {size}.")
        self.image_size = size
        layers, cin = [], 4 if self.sees_luma else 3
        for i in range(n_down):
            cout = cfg.d_width * min(2**i, 8)
            layers += [spectral_norm(nn.Conv2d(cin, cout, 4, 2, 1)), nn.LeakyReLU(0.2, True)]
            cin = cout
        self.features = nn.Sequential(*layers)  # (B, cin, 4, 4)
        self.to_vec = spectral_norm(nn.Linear(cin * 16, cfg.lenvec))

    def forward(self, x: Tensor) -> Tensor:
        if x.shape[-2:] != (self.image_size, self.image_size):
            raise ValueError(f"This D takes {self.image_size}x{self.image_size} images, got {tuple(x.shape[-2:])}.")
        if self.detail_window:
            base = local_mean(x, self.detail_window)
            x = torch.cat([x - base, luminance(base)], 1) if self.sees_luma else x - base
        return self.to_vec(self.features(x).flatten(1))  # (B, LENVEC)


def _box_mean_1d(x: Tensor, window: int, dim: int) -> Tensor:
    """Means of ``window`` consecutive entries along ``dim`` (no padding: that side shrinks by window - 1),
    as differences of a running sum: two reads an entry whatever the window. On a CPU it is 4-5 times
    faster than ``avg_pool2d`` with a 1-D kernel (forward and backward, session 19), the same to 1e-7."""
    total = F.pad(x.cumsum(dim), (1, 0) if dim == -1 else (0, 0, 1, 0))  # a 0 before each running sum
    n = total.shape[dim] - window
    return (total.narrow(dim, window, n) - total.narrow(dim, 0, n)) / window


def local_mean(x: Tensor, window: int = 7) -> Tensor:
    """The mean of each ``window`` x ``window`` neighbourhood (reflect padding), same size: the image's
    *base layer* (palette and slow shading). Two 1-D passes: a box filter is separable."""
    check_odd_window(window, "the local mean's window")
    r = window // 2
    x = F.pad(x, (r, r, r, r), mode="reflect")
    return _box_mean_1d(_box_mean_1d(x, window, -2), window, -1)


def detail_layer(x: Tensor, window: int = 7) -> Tensor:
    """``x`` minus its local mean over ``window`` x ``window`` pixels (reflect padding): edges, strokes and
    texture stay, the palette and slow shading go. What the Siamese D sees (``d_sees="detail"``)."""
    return x - local_mean(x, window)


# --- Tiles ---------------------------------------------------------------------------------------------
def split_tiles(x: Tensor, tile: int) -> Tensor:
    """(N, C, H, W) with H, W multiples of ``tile`` -> (N * H/tile * W/tile, C, tile, tile), row-major."""
    n, c, h, w = x.shape
    if h % tile or w % tile:
        raise ValueError(f"split_tiles needs sides that are multiples of {tile}, got {h}x{w}; pad first.")
    nh, nw = h // tile, w // tile
    return x.reshape(n, c, nh, tile, nw, tile).permute(0, 2, 4, 1, 3, 5).reshape(n * nh * nw, c, tile, tile)


def merge_tiles(tiles: Tensor, n: int, nh: int, nw: int) -> Tensor:
    """Inverse of ``split_tiles``: (n * nh * nw, C, t, t) -> (n, C, nh * t, nw * t)."""
    _, c, t, _ = tiles.shape
    return tiles.reshape(n, nh, nw, c, t, t).permute(0, 3, 1, 4, 2, 5).reshape(n, c, nh * t, nw * t)


def _as_batch(image: Tensor) -> Tensor:
    if not isinstance(image, Tensor):
        raise TypeError(f"Expected an image tensor, got {type(image).__name__}.")
    if image.dim() not in (3, 4):
        raise ValueError(f"Expected an image (C, H, W) or a batch (N, C, H, W), got shape {tuple(image.shape)}.")
    if min(image.shape[-2:]) < 1:
        raise ValueError(f"The image is empty ({tuple(image.shape)}).")
    return image if image.dim() == 4 else image.unsqueeze(0)


def _device_of(G, fallback: torch.device) -> torch.device:
    """Where G's weights are (any callable works; one without weights runs where the image is)."""
    p = next(G.parameters(), None) if isinstance(G, nn.Module) else None
    return p.device if p is not None else fallback


@torch.no_grad()
def translate_full(G: nn.Module, image: Tensor, tile: int, batch_size: int = 64) -> Tensor:
    """Translate an image of any size tile by tile: pad to multiples of ``tile``, cut into tile x tile
    patches, run G on them in batches, reassemble, crop back. Same shape and device as ``image``.

    ``image``: (3, H, W) or (N, 3, H, W) in [-1, 1]. With G the identity the input comes back exactly.
    Call ``G.eval()`` first if G has layers that behave differently in training.
    """
    if int(tile) != tile or tile < 1:
        raise ValueError(f"tile must be a positive integer, got {tile!r}.")
    x = _as_batch(image)
    padded, (h, w) = pad_to_multiple(x, tile)
    n, nh, nw = x.shape[0], padded.shape[-2] // tile, padded.shape[-1] // tile
    tiles = split_tiles(padded, tile)  # (n * nh * nw, C, tile, tile)
    device = _device_of(G, x.device)
    out = torch.cat([G(tiles[i:i + batch_size].to(device)).to(x.device, x.dtype)
                     for i in range(0, len(tiles), batch_size)])
    y = merge_tiles(out, n, nh, nw)[..., :h, :w]
    return y if image.dim() == 4 else y[0]


@torch.no_grad()
def translate_whole(G: nn.Module, image: Tensor, multiple: int = 4) -> Tensor:
    """G on the whole image at once (it is fully convolutional): the no-tiles baseline. Any size
    (padded to multiples of ``multiple`` and to at least ``MIN_SIDE``, then cropped back)."""
    x = _as_batch(image)
    padded, (h, w) = pad_to_multiple(x, multiple, minimum=MIN_SIDE)
    y = G(padded.to(_device_of(G, x.device))).to(x.device, x.dtype)[..., :h, :w]
    return y if image.dim() == 4 else y[0]


def combo(G: nn.Module, x: Tensor) -> Tensor:
    """The Combo model: (N, C, 2S, 2S) -> same shape, each S x S quarter translated by G on its own."""
    n, _, h, w = x.shape
    if h != w or h % 2:
        raise ValueError(f"The Combo model takes square 2S x 2S crops, got {h}x{w}.")
    return merge_tiles(G(split_tiles(x, h // 2)), n, 2, 2)


class Combo(nn.Module):
    """``combo(G, x)`` as a module (it owns no weights of its own: its parameters are G's)."""

    def __init__(self, G: nn.Module) -> None:
        super().__init__()
        self.G = G

    def forward(self, x: Tensor) -> Tensor:
        return combo(self.G, x)


def build(cfg: SiameseHDConfig, naive: bool = False) -> tuple[Generator, SiameseDiscriminator]:
    """G and D; ``naive=True`` gives the baseline's D, which judges single S x S crops."""
    return Generator(cfg), SiameseDiscriminator(cfg, image_size=cfg.tile if naive else 2 * cfg.tile)


def make_optimizers(G: nn.Module, D: nn.Module, cfg: SiameseHDConfig) -> tuple[torch.optim.Adam, torch.optim.Adam]:
    """Adam(cfg.lr, cfg.betas) for G; the same for D, at ``cfg.lr_d`` when it is given."""
    lr_d = cfg.lr if cfg.lr_d is None else cfg.lr_d
    return (torch.optim.Adam(G.parameters(), lr=cfg.lr, betas=cfg.betas),
            torch.optim.Adam(D.parameters(), lr=lr_d, betas=cfg.betas))
