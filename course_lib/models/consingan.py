"""ConSinGAN: Hinz, Fisher, Wang & Wermter, "Improved Techniques for Training Single-Image GANs",
WACV 2021 (arXiv:2003.11512), which improves SinGAN (Shaham, Dekel & Michaeli, "SinGAN: Learning a
Generative Model from a Single Natural Image", ICCV 2019).

One photo is the whole training set. A pyramid of stages, from a coarse copy of the photo to the
full size, each learns the distribution of the photo's patches at its scale:

* **Stages pass features, not images.** The generator is one network that grows: a head (3 -> 64
  channels), one block of 3 conv layers per stage, and a shared tail (64 -> 3, tanh). A new stage's
  block starts as a copy of the previous one. Its input is the previous stage's 64-channel features,
  bilinearly upsampled to the new size, plus noise (in feature space, 64 channels, scaled by the
  stage's noise amplitude); its output is *added* to that upsampled input (a residual: each stage only
  adds detail).
* **The critic sees patches.** ``PatchCritic`` is 5 unpadded 3x3 conv layers: each output scores one
  11x11 patch, so at the coarse stages a patch covers a large part of the image (layout) and at the
  fine ones only texture. A new critic per stage starts from the previous stage's weights.
* **Concurrent training.** The last ``train_depth`` (3) stage blocks train together; the learning rate
  of a block below the newest is scaled by ``lr_scale`` per level (newest x1, next x0.1, next
  x0.01); older blocks are frozen. SinGAN trains one stage at a time (train_depth 1), so stages
  cannot adapt to each other; training all of them at full rate overfits (the samples become copies).
* **Rescaling packs stages at low resolution**, where the global layout is decided:
  ``scale_i = f ** ((N - 1) / ln N * ln(N - i) + 1)`` with ``f = (min_size / min(H, W)) ** (1 / N)``,
  ``N = n_stages - 1``; for a 250x188 image the widths are 33, 42, 55, 83, 167, 250 (``pyramid_sizes``).
  Harmonization keeps SinGAN's geometric scales ``f ** (N - i)`` (``packed=False``).

Where this file follows the authors' code rather than the paper's text: unpadded convolutions, with
the first stage's features enlarged by 2 pixels and later stages' noise drawn 6 pixels larger, so
that the image border gets as much variety as its centre; the first stage takes 3-channel noise at
the image size (or, to reconstruct, the downsampled photo itself); the head trains while stage 0 is
among the trained stages, at stage 0's learning rate. The authors' code upsamples bicubically; the
course uses bilinear upsampling as the paper's text does.
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn


@dataclass
class ConSinGANConfig:
    """The paper's defaults (generation at gpu scale: 6 stages, 250 px, 2000 iterations a stage).

    The cpu budget departs (``course_lib.recipes.consingan.settings``): max side 80 px instead of 250
    (one iteration costs about 4-6 s at 250 px on 2 cores, a few tenths of a second at 80 px), 5
    stages, a few hundred iterations per stage; min_size stays 25 so the coarsest stage still sees
    the whole layout in a few patches. Harmonization (paper): 3 stages, min side 120 of 250, 1000
    iterations, batch norm in G, SinGAN's geometric scales.
    """

    channels: int = 64  # filters of every conv layer (G and D)
    n_layers: int = 3  # conv layers in a stage block (and D has head + n_layers + tail = 5 layers)
    kernel: int = 3
    lrelu_slope: float = 0.05
    n_stages: int = 6
    train_depth: int = 3  # stages trained concurrently
    lr_scale: float = 0.1  # lr factor per level below the newest stage
    min_size: int = 25  # shorter side of the coarsest stage
    max_size: int = 250  # longer side of the finest stage (the photo is shrunk to it)
    packed: bool = True  # the paper's rescaling; False: SinGAN's geometric one (harmonization)
    iters_per_stage: int = 2000
    lr_g: float = 5e-4
    lr_d: float = 5e-4
    beta1: float = 0.5  # Adam betas (0.5, 0.999)
    lr_decay_at: float = 0.8  # both lrs x lr_decay after 80% of each stage's iterations
    lr_decay: float = 0.1
    d_steps: int = 3  # critic updates per iteration
    g_steps: int = 3  # optimizer steps per generator gradient (the authors' code repeats the step)
    gp_weight: float = 0.1  # WGAN-GP lambda, with the gradient norm taken per pixel
    rec_weight: float = 10.0  # alpha: weight of the reconstruction MSE
    noise_amp_init: float = 0.1  # noise amplitude = 0.1 x RMSE of the stage's reconstruction
    batch_norm: bool = False  # norm in G (paper: for harmonization and editing; see ConvBlock)
    init_std: float = 0.02  # conv weights ~ N(0, 0.02)

    def __post_init__(self) -> None:
        if self.n_stages < 2:
            raise ValueError(f"n_stages must be at least 2 (a coarse and a fine stage), got {self.n_stages}.")
        if self.train_depth < 1:
            raise ValueError(f"train_depth must be at least 1, got {self.train_depth}.")
        if not 0 < self.lr_scale <= 1:
            raise ValueError(f"lr_scale must be in (0, 1], got {self.lr_scale}.")
        if self.min_size < critic_field(self) + 1:
            raise ValueError(
                f"min_size {self.min_size} is too small: the critic's {critic_field(self)}x{critic_field(self)} "
                f"patches need stages of at least {critic_field(self) + 1} px; raise min_size."
            )
        if self.max_size <= self.min_size:
            raise ValueError(f"max_size ({self.max_size}) must be larger than min_size ({self.min_size}).")


def critic_field(cfg: ConSinGANConfig) -> int:
    """Side of the patch one critic output sees: (n_layers + 2) unpadded convs, 11 for 3x3 and 3 layers."""
    return (cfg.n_layers + 2) * (cfg.kernel - 1) + 1


# --- The pyramid ---------------------------------------------------------------------------------
def stage_scales(n_stages: int, factor: float, packed: bool = True) -> list[float]:
    """Scale of each stage relative to the finest, coarse to fine (the last is 1)."""
    n = n_stages - 1
    if packed and n > 1:
        # exponents run from n (the coarsest) down to 1, spaced like ln(N - i): dense at the bottom
        exps = [(n - 1) / math.log(n) * math.log(n - i) + 1 for i in range(n)]
    else:
        exps = [float(n - i) for i in range(n)]
    return [factor**e for e in exps] + [1.0]


def pyramid_sizes(height: int, width: int, n_stages: int, min_size: int, max_size: int,
                  packed: bool = True) -> list[tuple[int, int]]:
    """(h, w) of every stage, coarse to fine, for a photo of height x width.

    The photo is first shrunk so that its longer side is at most max_size; the coarsest stage's
    shorter side is min_size. 250x188 (w x h), 6 stages, 25/250: widths 33, 42, 55, 83, 167, 250.
    """
    top = min(max_size / max(height, width), 1.0)
    h, w = round(height * top), round(width * top)
    if min(h, w) < min_size:
        raise ValueError(
            f"The image is {height}x{width} px; at {h}x{w} its shorter side is below the coarsest stage's "
            f"{min_size} px. Use a larger image (shorter side at least {min_size} px) or lower min_size."
        )
    factor = (min_size / min(h, w)) ** (1.0 / (n_stages - 1))
    sizes = [(max(1, round(h * s)), max(1, round(w * s))) for s in stage_scales(n_stages, factor, packed)]
    sizes[-1] = (h, w)
    return sizes


def resize(image: Tensor, size: tuple[int, int]) -> Tensor:
    """Bilinear resize of (N, C, H, W), antialiased when shrinking (the pyramid of the real photo)."""
    if tuple(image.shape[-2:]) == tuple(size):
        return image
    shrink = size[0] < image.shape[-2] or size[1] < image.shape[-1]
    return F.interpolate(image, size=size, mode="bilinear", align_corners=False, antialias=shrink)


def image_pyramid(image: Tensor, sizes: list[tuple[int, int]]) -> list[Tensor]:
    """The photo (1, 3, H, W) at every stage's size, coarse to fine."""
    return [resize(image, s) for s in sizes]


# --- Networks ------------------------------------------------------------------------------------
class ConvBlock(nn.Sequential):
    """Unpadded 3x3 conv [-> norm] -> LeakyReLU(0.05): each layer trims one pixel per side.

    The norm is the paper's batch norm as it acts at ConSinGAN's batch size of one in train mode:
    statistics over one image's pixels, i.e. an affine instance norm. Written as instance norm so
    that batched sampling and eval mode give exactly what training saw.
    """

    def __init__(self, cin: int, cout: int, cfg: ConSinGANConfig, norm: bool = False) -> None:
        layers: list[nn.Module] = [nn.Conv2d(cin, cout, cfg.kernel, padding=0)]
        if norm:
            layers.append(nn.InstanceNorm2d(cout, affine=True))
        layers.append(nn.LeakyReLU(cfg.lrelu_slope))
        super().__init__(*layers)


def stage_block(cfg: ConSinGANConfig) -> nn.Sequential:
    return nn.Sequential(*[ConvBlock(cfg.channels, cfg.channels, cfg, cfg.batch_norm) for _ in range(cfg.n_layers)])


def init_weights(module: nn.Module, std: float = 0.02) -> None:
    """Conv weights ~ N(0, std), norm scales ~ N(1, std); conv biases keep PyTorch's default (as
    in the authors' code)."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.normal_(m.weight, 0.0, std)
        elif isinstance(m, nn.InstanceNorm2d) and m.affine:
            nn.init.normal_(m.weight, 1.0, std)
            nn.init.zeros_(m.bias)


class GrowingGenerator(nn.Module):
    """head -> body[0] -> (upsample + noise -> body[k], + upsample) ... -> tail, one block per stage."""

    def __init__(self, cfg: ConSinGANConfig) -> None:
        super().__init__()
        self.cfg = cfg
        c, trim = cfg.channels, cfg.n_layers * (cfg.kernel - 1)  # a block trims 6 px per axis
        self.trim = trim
        self.head = nn.Sequential(nn.ZeroPad2d(1), ConvBlock(3, c, cfg, cfg.batch_norm))
        self.body = nn.ModuleList([stage_block(cfg)])
        self.tail = nn.Sequential(nn.ZeroPad2d(1), nn.Conv2d(c, 3, cfg.kernel), nn.Tanh())
        init_weights(self, cfg.init_std)

    @property
    def n_stages(self) -> int:
        return len(self.body)

    def grow(self) -> None:
        """Add a stage whose block starts as a copy of the newest one (it already makes sensible detail)."""
        self.body.append(copy.deepcopy(self.body[-1]))

    def noise_shapes(self, sizes: list[tuple[int, int]]) -> list[tuple[int, int, int]]:
        """(C, h, w) of each stage's input: 3-channel noise at stage 0, 64-channel noise 6 px larger after."""
        return [(3, *sizes[0])] + [(self.cfg.channels, h + self.trim, w + self.trim) for h, w in sizes[1:]]

    def draw_noise(self, sizes: list[tuple[int, int]], n: int, generator: torch.Generator,
                   device: torch.device | str = "cpu") -> list[Tensor]:
        """Fresh N(0, 1) inputs for every stage in ``sizes``, drawn on ``generator``'s device, then moved."""
        return [torch.randn((n, *shape), generator=generator, device=generator.device).to(device)
                for shape in self.noise_shapes(sizes)]

    def features(self, noise: list[Tensor], sizes: list[tuple[int, int]], amps: list[float]) -> list[Tensor]:
        """The 64-channel features after each stage, coarse to fine: [(B, 64, h_k, w_k)]."""
        k = self.n_stages
        if len(noise) < k or len(sizes) < k or len(amps) < k:
            raise ValueError(f"The generator has {k} stages: give noise, sizes and amps for each (got "
                             f"{len(noise)}, {len(sizes)}, {len(amps)}).")
        x = self.head(noise[0])  # (B, 64, h0, w0)
        # 2 px larger, then padded, so the unpadded block ends at the stage size with border variety
        x = F.interpolate(x, size=(x.shape[2] + 2, x.shape[3] + 2), mode="bilinear", align_corners=False)
        pad = (self.trim - 2) // 2
        feats = [self.body[0](F.pad(x, (pad, pad, pad, pad)))]  # (B, 64, h0, w0)
        for i in range(1, k):
            h, w = sizes[i]
            prev = feats[-1]
            up = F.interpolate(prev, size=(h, w), mode="bilinear", align_corners=False)  # (B, 64, h, w)
            up_big = F.interpolate(prev, size=(h + self.trim, w + self.trim), mode="bilinear", align_corners=False)
            feats.append(up + self.body[i](up_big + amps[i] * noise[i]))  # residual: the stage adds detail
        return feats

    def forward(self, noise: list[Tensor], sizes: list[tuple[int, int]], amps: list[float]) -> Tensor:
        """An image (B, 3, h, w) at the newest stage's size, in [-1, 1]."""
        return self.tail(self.features(noise, sizes, amps)[-1])


class PatchCritic(nn.Module):
    """WGAN critic of 5 unpadded conv layers: (B, 3, H, W) -> a map of patch scores (B, 1, H-10, W-10)."""

    def __init__(self, cfg: ConSinGANConfig) -> None:
        super().__init__()
        c = cfg.channels
        self.head = ConvBlock(3, c, cfg)
        self.body = nn.Sequential(*[ConvBlock(c, c, cfg) for _ in range(cfg.n_layers)])
        self.tail = nn.Conv2d(c, 1, cfg.kernel)  # no norm in a critic under a gradient penalty
        init_weights(self, cfg.init_std)

    def forward(self, x: Tensor) -> Tensor:
        return self.tail(self.body(self.head(x)))


# --- Concurrent training: who trains, at which learning rate ----------------------------------
def stage_param_groups(G: GrowingGenerator, cfg: ConSinGANConfig) -> list[dict]:
    """Freeze all but the last ``train_depth`` blocks; Adam groups with lr x lr_scale per level.

    Newest block lr_g, the one below lr_g * lr_scale, then lr_g * lr_scale^2; the tail always trains
    at lr_g; the head trains (at stage 0's rate) while stage 0 is among the trained stages. Frozen
    parameters get ``requires_grad=False``, so no gradient is even computed for them.
    """
    n = G.n_stages
    first = max(0, n - cfg.train_depth)
    groups = []
    for i, block in enumerate(G.body):
        trained = i >= first
        block.requires_grad_(trained)
        if trained:
            groups.append({"params": list(block.parameters()), "lr": cfg.lr_g * cfg.lr_scale ** (n - 1 - i),
                           "name": f"stage {i}"})
    G.head.requires_grad_(first == 0)
    if first == 0:
        groups.append({"params": list(G.head.parameters()), "lr": cfg.lr_g * cfg.lr_scale ** (n - 1), "name": "head"})
    G.tail.requires_grad_(True)
    groups.append({"params": list(G.tail.parameters()), "lr": cfg.lr_g, "name": "tail"})
    return groups


def make_optimizers(G: GrowingGenerator, D: PatchCritic, cfg: ConSinGANConfig):
    """Fresh Adam optimizers for a new stage and their step decay at 80% of the stage."""
    opt_G = torch.optim.Adam(stage_param_groups(G, cfg), lr=cfg.lr_g, betas=(cfg.beta1, 0.999))
    opt_D = torch.optim.Adam(D.parameters(), lr=cfg.lr_d, betas=(cfg.beta1, 0.999))
    milestone = [max(1, int(cfg.lr_decay_at * cfg.iters_per_stage))]
    sched_G = torch.optim.lr_scheduler.MultiStepLR(opt_G, milestone, gamma=cfg.lr_decay)
    sched_D = torch.optim.lr_scheduler.MultiStepLR(opt_D, milestone, gamma=cfg.lr_decay)
    return opt_G, opt_D, sched_G, sched_D
