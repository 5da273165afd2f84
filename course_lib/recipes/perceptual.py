"""Perceptual losses (Johnson, Alahi & Fei-Fei, ECCV 2016): fast style transfer and super-resolution.

    python -m course_lib train fast-style --data photos --budget cpu --out runs/fast-style
    python -m course_lib train perceptual-sr --data photos --budget cpu --out runs/perceptual-sr

Data, all offline (``course_lib.data.photos``): training content is random crops, at random scales
and with random horizontal flips, of six bundled photos (``CONTENT_PHOTOS``); ``chelsea`` and
``flower`` are **held out** (``HELDOUT``) for every number and figure. The style image is the
immunohistochemistry photo (a colour image with strong texture) or ``painterly`` (the deterministic
painterly transform of chelsea, ``course_lib.data.painterly``; chelsea is then no longer an unseen
photo for the style network, but its content never is a training crop either) or any image path.

Style transfer (``run_style``): the baseline of Gatys et al. (optimise one image's pixels with L-BFGS,
500 iterations as in Johnson's comparison) against one pass of Johnson's transform net trained on many
crops; both minimise the same loss, and both are measured on the held-out photos.

Super-resolution (``run_sr``): x4 (x4 and x8 at gpu); low-resolution inputs are the ground truth
blurred with a Gaussian of sigma 1 and then downsampled with bicubic interpolation; one net trained with
the pixel loss and one with the feature loss, both against bicubic on the held-out photos (PSNR, SSIM
on Y with a border of `factor` pixels cropped, and Laplacian high-frequency energy).

Per budget: cpu trains on 128-px crops (the paper: 256-px COCO images, 40k steps at batch 4), a few
hundred steps; gpu at 256 px (SR: the paper's 288-px crops) for thousands of steps.
"""
from __future__ import annotations

import math
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .. import runtime
from ..data.photos import photo
from ..losses import content_loss, gram_matrix, pixel_loss, style_loss, tv_loss
from ..metrics import image_quality
from ..metrics.faces import gaussian_blur
from ..models import loss_network as lossnet
from ..models.transform_net import SRNet, SRNetConfig, TransformNet, TransformNetConfig, bicubic_upsample
from ..storage import atomic_save, safe_load

CONTENT_PHOTOS = ("astronaut", "coffee", "rocket", "motorcycle_left", "china", "hubble_deep_field")
HELDOUT = ("chelsea", "flower")
STYLES = ("immunohistochemistry", "painterly")
DATA_NAMES = ("photos",)
GATYS_ITERATIONS = 500  # Johnson et al.'s comparison


# --- Settings per budget -----------------------------------------------------------------------
def style_settings(budget_name: str | None = None) -> dict:
    """The fast-style run at a budget. Loss weights are for the loss network actually loaded (see
    ``loss_weights``); ``style_size`` is the style image's longer side when its Gram matrices are taken."""
    return runtime.pick(
        smoke=dict(crop=48, batch_size=2, steps=3, width=8, n_res=1, photo_side=160, style_size=96,
                   eval_side=96, gatys_iterations=4, big_side=160, lr=1e-3),
        cpu=dict(crop=128, batch_size=4, steps=300, width=32, n_res=5, photo_side=512, style_size=256,
                 eval_side=256, gatys_iterations=GATYS_ITERATIONS, big_side=1024, lr=1e-3),
        gpu=dict(crop=256, batch_size=4, steps=6000, width=32, n_res=5, photo_side=640, style_size=512,
                 eval_side=512, gatys_iterations=GATYS_ITERATIONS, big_side=1024, lr=1e-3),
        budget_name=budget_name,
    )


def sr_settings(budget_name: str | None = None) -> dict:
    """The perceptual-sr run at a budget (the paper: 288-px crops, batch 4, 200k steps, lr 1e-3)."""
    return runtime.pick(
        smoke=dict(factors=(4,), crop=32, batch_size=2, steps=3, width=8, n_res=1, photo_side=160, eval_side=160, lr=1e-3),
        cpu=dict(factors=(4,), crop=96, batch_size=8, steps=250, width=64, n_res=4, photo_side=512, eval_side=640, lr=1e-3),
        gpu=dict(factors=(4, 8), crop=288, batch_size=4, steps=5000, width=64, n_res=4, photo_side=640, eval_side=640, lr=1e-3),
        budget_name=budget_name,
    )


def loss_weights(L: lossnet.LossNetwork) -> dict:
    """Content, style and TV weights, and the per-layer style weights, for the given loss network.

    Both networks use ``layers="relative"``: each layer weighted by 1 / ||G_j(style)||_F^2, making each
    term a relative error. The paper's equal weights with content 1 and style 5 (the authors' code) do
    not carry over: that code averages the squared Gram error over the C_j^2 entries (MSECriterion)
    and feeds Caffe-scaled pixels, so with this module's summed Frobenius norm its style term would be
    C_j^2 (4k to 262k) times too strong. For VGG16 these weights are untested (no VGG16 weights were
    at hand when they were chosen); TF-Inception: its layers' Gram matrices differ in size (squared
    norms on the style photo: about 4, 4 and 20). Style 10 and TV 10 (TV as mean squared differences of [-1, 1] pixels) were chosen on
    held-out chelsea, by eye and by the losses, from style 3-100 and TV 0.01-10: a lower TV leaves a
    pixel-level grid (the Inception's stride-2 first layer is blind to part of it), a higher style
    weight dissolves the content within the cpu budget's few hundred steps.
    """
    return dict(content=1.0, style=10.0, tv=10.0, layers="relative")


# --- Data: photos, crops, style images, degradation --------------------------------------------
def check_data(data_name: str) -> None:
    if data_name not in DATA_NAMES:
        raise ValueError(f"The perceptual-loss models train on {DATA_NAMES[0]!r} (the bundled photos of "
                         f"course_lib.data.photos), not {data_name!r}.")


def training_photos(max_side: int, names=CONTENT_PHOTOS) -> list[Tensor]:
    return [photo(name, max_side=max_side) for name in names]


def random_scaled_crops(images: list[Tensor], n: int, size: int, generator: torch.Generator) -> Tensor:
    """n crops (n, 3, size, size): a random image, a random square window between size and the image's
    shorter side (scale augmentation), resized to size (antialiased), flipped left-right half the time."""
    out = []
    for _ in range(n):
        image = images[int(torch.randint(len(images), (1,), generator=generator))]
        h, w = image.shape[-2:]
        if min(h, w) < size:
            raise ValueError(f"A training photo of {h}x{w} is smaller than the {size}-px crop; lower the crop size.")
        side = int(torch.randint(size, min(h, w) + 1, (1,), generator=generator))
        top = int(torch.randint(h - side + 1, (1,), generator=generator))
        left = int(torch.randint(w - side + 1, (1,), generator=generator))
        crop = image[None, :, top:top + side, left:left + side]
        if side != size:
            crop = F.interpolate(crop, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
        if float(torch.rand((), generator=generator)) < 0.5:
            crop = crop.flip(-1)
        out.append(crop[0])
    return torch.stack(out).clamp(-1, 1)  # (n, 3, size, size); clamp: resampling round-off


def style_image(name: str, max_side: int) -> Tensor:
    """(3, H, W) style image: 'immunohistochemistry', 'painterly' (painterly chelsea), or an image path."""
    if name == "painterly":
        try:
            from ..data.painterly import painterly
        except ImportError:
            raise ValueError("The painterly style needs course_lib.data.painterly, which is not installed here; "
                             "use --style immunohistochemistry or an image path.") from None
        return painterly(photo("chelsea", max_side=max_side))
    return photo(name, max_side=max_side)


def heldout_photos(max_side: int, multiple: int = 1) -> dict[str, Tensor]:
    """The held-out photos at ``max_side``, cropped (top-left) to a multiple of ``multiple`` per side."""
    out = {}
    for name in HELDOUT:
        image = photo(name, max_side=max_side)
        h, w = image.shape[-2:]
        out[name] = image[:, : h - h % multiple, : w - w % multiple]
    return out


def big_photo(side: int, name: str = "flower") -> Tensor:
    """A held-out photo with its longer side at ``side`` px (bicubic, enlarged if the photo is smaller:
    the bundled photos are at most about 1000 px), to show one pass over a large image."""
    image = photo(name)
    h, w = image.shape[-2:]
    size = (round(h * side / max(h, w)), round(w * side / max(h, w)))
    if max(h, w) > side:
        return F.interpolate(image[None], size=size, mode="bilinear", align_corners=False, antialias=True)[0]
    return F.interpolate(image[None], size=size, mode="bicubic", align_corners=False)[0].clamp(-1, 1)


def degrade(hr: Tensor, factor: int, sigma: float = 1.0) -> Tensor:
    """The paper's low-resolution input: Gaussian blur (sigma 1), then bicubic downsampling by factor."""
    if hr.shape[-1] % factor or hr.shape[-2] % factor:
        raise ValueError(f"The high-resolution size {tuple(hr.shape[-2:])} must be a multiple of the factor {factor}.")
    blurred = gaussian_blur(hr, sigma)
    lr = F.interpolate(blurred, scale_factor=1 / factor, mode="bicubic", align_corners=False, antialias=True)
    return lr.clamp(-1, 1)


# --- The losses as one criterion ----------------------------------------------------------------
class StyleCriterion:
    """Johnson et al.'s objective for style transfer, against one style image:

        w_c * l_feat(phi_content(y), phi_content(x)) + w_s * sum_j w_j l_style_j(y, y_s) + w_tv * l_tv(y)

    Shared by the Gatys baseline and the transform net, so their losses compare directly.
    """

    def __init__(self, L: lossnet.LossNetwork, style: Tensor, weights: dict | None = None) -> None:
        self.L, self.weights = L, weights or loss_weights(L)
        device = next(L.parameters()).device
        with torch.no_grad():
            feats = L(style.unsqueeze(0).to(device) if style.dim() == 3 else style.to(device))
            self.target_grams = {k: gram_matrix(feats[k]) for k in L.style_layers}  # (1, C, C) each
        layers = self.weights["layers"]
        if layers == "relative":  # each layer's term becomes ||G - G_s||^2 / ||G_s||^2
            layers = {k: 1.0 / float(g.pow(2).sum()) for k, g in self.target_grams.items()}
        self.layer_weights: dict[str, float] = dict(layers)

    def content_features(self, content: Tensor) -> Tensor:
        with torch.no_grad():
            return self.L(content, [self.L.content_layer])[self.L.content_layer]

    def __call__(self, y: Tensor, content_feats: Tensor) -> tuple[Tensor, dict[str, float]]:
        w = self.weights
        feats = self.L(y)
        l_content = content_loss(feats[self.L.content_layer], content_feats)
        l_style = style_loss(feats, self.target_grams, self.layer_weights)
        l_tv = tv_loss(y)
        loss = w["content"] * l_content + w["style"] * l_style + w["tv"] * l_tv
        parts = {"loss": loss, "content": l_content, "style": l_style, "tv": l_tv}
        return loss, {k: float(v.detach()) for k, v in parts.items()}


# --- Training loops -----------------------------------------------------------------------------
def style_step(net: nn.Module, opt: torch.optim.Optimizer, content: Tensor, crit: StyleCriterion) -> dict[str, float]:
    """One update of the transform net on a batch of content crops (B, 3, S, S)."""
    y = net(content)  # (B, 3, S, S), one pass
    loss, parts = crit(y, crit.content_features(content))
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return parts


def sr_feature_layer(L: lossnet.LossNetwork) -> str:
    """The layer of the SR feature loss: VGG16's relu2_2 as in the paper (its content layer); for
    TF-Inception the deepest tap, conv_4. Measured at the cpu budget (x4, 250 steps, held-out photos):
    at conv_2 the feature-loss model stayed almost as smooth as the pixel-loss one (Laplacian energy
    0.02 of the ground truth's, bicubic 0.01); at conv_4 it drew detail (0.35), PSNR 1.7 dB below bicubic.
    """
    return L.content_layer if L.name == "vgg16" else L.layers[-1]


def sr_loss(kind: str, L: lossnet.LossNetwork | None, tv_weight: float = 0.0, layer: str | None = None,
            random_phase: bool = True) -> Callable[..., Tensor]:
    """The SR training loss ``loss(sr, hr, generator)``: 'pixel' (per-pixel MSE) or 'feature' (l_feat at
    ``sr_feature_layer(L)``, or ``layer``, plus ``tv_weight`` x TV).

    ``random_phase`` (feature loss only; our departure from the paper): both images are shifted by the
    same random 0/1 pixel in x and y (drawn from ``generator``) before the loss network sees them. The
    network's first layer samples with stride 2, so an SR net whose upsampling paints a fixed period-2
    grid (transposed convs do) could otherwise tune that grid to the loss network's sampling phase and
    be rewarded for it; with the phase random the grid no longer pays, and the net learns real detail.
    """
    if kind == "pixel":
        return lambda sr, hr, generator=None: pixel_loss(sr, hr)
    if kind != "feature":
        raise ValueError(f"Unknown SR loss {kind!r}; use 'pixel' or 'feature'.")
    if L is None:
        raise ValueError("The feature loss needs a loss network.")
    layer = layer or sr_feature_layer(L)

    def feature(sr: Tensor, hr: Tensor, generator: torch.Generator | None = None) -> Tensor:
        reg = tv_weight * tv_loss(sr) if tv_weight else 0.0
        if random_phase and generator is not None:
            dy, dx = torch.randint(2, (2,), generator=generator).tolist()
            sr, hr = sr[..., dy:, dx:], hr[..., dy:, dx:]
        with torch.no_grad():
            target = L(hr, [layer])[layer]
        return content_loss(L(sr, [layer])[layer], target) + reg

    return feature


def sr_step(net: nn.Module, opt: torch.optim.Optimizer, hr: Tensor, loss_fn, factor: int,
            generator: torch.Generator | None = None) -> dict[str, float]:
    """One update of an SR net: degrade the HR crops, super-resolve, compare with the ground truth."""
    lr = degrade(hr, factor)  # (B, 3, S/f, S/f)
    loss = loss_fn(net(lr), hr, generator)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return {"loss": float(loss.detach())}


def train(net: nn.Module, step_fn: Callable[..., dict], sample: Callable[[torch.Generator], Tensor],
          steps: int, lr: float, seed: int, record: dict, ckpt: Path | None = None, resume: bool = False,
          progress: bool = True, desc: str = "training") -> list[dict]:
    """Adam on ``net`` for ``steps`` updates of ``step_fn(batch, opt, generator)``; batches from
    ``sample(generator)``, both drawing from one seeded CPU generator.

    Checkpoints (atomic, about every tenth of the run and at the end) hold the weights, the optimiser,
    the data generator and the history, so ``resume=True`` continues exactly where a run stopped.
    Stops with a clear error on a non-finite loss, keeping the last good checkpoint.
    """
    from tqdm.auto import tqdm

    device = next(net.parameters()).device
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    generator = torch.Generator().manual_seed(seed)
    history: list[dict] = []
    start = 0
    if resume and ckpt is not None and ckpt.is_file():
        state = safe_load(ckpt, map_location=device)
        if state["config"] != record:
            raise ValueError(f"{ckpt} was written by a run with other settings; delete it or drop --resume.")
        net.load_state_dict(state["net"])
        opt.load_state_dict(state["opt"])
        generator.set_state(state["generator"].cpu())
        history, start = list(state["history"]), int(state["step"])
        print(f"resumed {desc} from {ckpt} at step {start}", file=sys.stderr)

    def save(step: int) -> None:
        if ckpt is not None:
            atomic_save({"net": net.state_dict(), "opt": opt.state_dict(), "generator": generator.get_state(),
                         "history": history, "step": step, "config": record}, ckpt)

    every = max(1, steps // 10)
    net.train()
    for step in tqdm(range(start, steps), initial=start, total=steps, desc=desc, disable=not progress, mininterval=1.0):
        parts = step_fn(sample(generator).to(device), opt, generator)
        if not all(math.isfinite(v) for v in parts.values()):
            raise FloatingPointError(f"{desc}: a non-finite loss at step {step + 1} ({parts}); the last good "
                                     f"checkpoint is {ckpt}. Lower the learning rate or the loss weights.")
        history.append({"step": step + 1, **parts})
        if (step + 1) % every == 0 and step + 1 < steps:
            save(step + 1)
    save(steps)
    net.eval()
    return history


def build_transform_net(s: dict, upsample: str = "transpose") -> TransformNet:
    return TransformNet(TransformNetConfig(width=s["width"], n_res=s["n_res"], upsample=upsample))


def train_style(s: dict, crit: StyleCriterion, seed: int = 0, ckpt: Path | None = None, resume: bool = False,
                progress: bool = True, upsample: str = "transpose", record: dict | None = None) -> tuple[TransformNet, list[dict]]:
    """Train a transform net on scale-jittered crops of the content photos; returns it (eval) and its history."""
    torch.manual_seed(seed)  # layer initialisation
    net = build_transform_net(s, upsample).to(next(crit.L.parameters()).device)
    photos = training_photos(s["photo_side"])
    history = train(net, lambda x, opt, g: style_step(net, opt, x, crit),
                    lambda g: random_scaled_crops(photos, s["batch_size"], s["crop"], g),
                    s["steps"], s["lr"], seed, record or {"settings": s, "upsample": upsample, "loss_network": crit.L.name}, ckpt, resume,
                    progress, desc=f"transform net ({upsample})")
    return net, history


def build_sr_net(s: dict, factor: int) -> SRNet:
    return SRNet(SRNetConfig(factor=factor, width=s["width"], n_res=s["n_res"], upsample=s.get("upsample", "transpose")))


def train_sr(s: dict, kind: str, factor: int, L: lossnet.LossNetwork | None, seed: int = 0, ckpt: Path | None = None,
             resume: bool = False, progress: bool = True, record: dict | None = None) -> tuple[SRNet, list[dict]]:
    """Train an x``factor`` SR net with the 'pixel' or 'feature' loss on crops of the content photos."""
    torch.manual_seed(seed)
    device = runtime.get_device() if L is None else next(L.parameters()).device
    net = build_sr_net(s, factor).to(device)
    loss_fn = sr_loss(kind, L, tv_weight=s.get("tv", 0.0), layer=s.get("feature_layer"), random_phase=s.get("random_phase", True))
    photos = training_photos(s["photo_side"])
    crop = s["crop"] - s["crop"] % factor
    history = train(net, lambda hr, opt, g: sr_step(net, opt, hr, loss_fn, factor, g),
                    lambda g: random_scaled_crops(photos, s["batch_size"], crop, g),
                    s["steps"], s["lr"], seed, record or {"settings": s, "kind": kind, "factor": factor,
                                                      "loss_network": None if L is None else L.name}, ckpt, resume,
                    progress, desc=f"SR x{factor} ({kind} loss)")
    return net, history


# --- The Gatys et al. baseline ------------------------------------------------------------------
def gatys(content: Tensor, crit: StyleCriterion, iterations: int = GATYS_ITERATIONS, init: str = "content",
          chunk: int = 10, progress: bool = True) -> tuple[Tensor, dict]:
    """Gatys, Ecker & Bethge (CVPR 2016): optimise the pixels of one image with L-BFGS against the loss.

    ``content``: (1, 3, H, W). ``init``: 'content' (start from the photo, the faster choice) or 'noise'
    (white noise, as Gatys et al.). Runs exactly ``iterations`` L-BFGS iterations (no early stop) and
    returns the image (clamped to [-1, 1]) and {iterations, function_evaluations, seconds, losses}.
    """
    from tqdm.auto import tqdm

    if init not in ("content", "noise"):
        raise ValueError(f"init must be 'content' or 'noise', got {init!r}.")
    device = next(crit.L.parameters()).device
    content = content.to(device)
    target = crit.content_features(content)
    if init == "content":
        x = content.clone()
    else:
        x = (torch.rand(content.shape, generator=torch.Generator().manual_seed(0)) * 2 - 1).to(device)
    x.requires_grad_(True)
    # lr 1 without a line search, as the Torch optim.lbfgs the authors used; tolerances 0: no early stop
    opt = torch.optim.LBFGS([x], lr=1.0, max_iter=chunk, history_size=100, tolerance_grad=0.0, tolerance_change=0.0)
    last: dict = {}

    def closure() -> Tensor:
        nonlocal last
        opt.zero_grad(set_to_none=True)
        loss, last = crit(x, target)
        loss.backward()
        return loss

    t0 = time.perf_counter()
    done = 0
    with tqdm(total=iterations, desc="Gatys et al. (L-BFGS)", disable=not progress, mininterval=1.0) as bar:
        while done < iterations:
            opt.param_groups[0]["max_iter"] = min(chunk, iterations - done)
            opt.step(closure)
            n_iter = opt.state[x]["n_iter"]
            if n_iter == done:  # L-BFGS stopped by itself (a zero gradient); nothing more to gain
                break
            bar.update(n_iter - done)
            done = n_iter
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    seconds = time.perf_counter() - t0
    info = {"iterations": int(done), "function_evaluations": int(opt.state[x]["func_evals"]),
            "seconds": seconds, "init": init, **{f"final_{k}": v for k, v in last.items()}}
    return x.detach().clamp(-1, 1), info


# --- Measuring ----------------------------------------------------------------------------------
def ms_per_image(fn: Callable[[Tensor], Tensor], x: Tensor, repeats: int = 3) -> float:
    """Milliseconds per image of ``fn(x)`` (one warm-up call first, then the mean of ``repeats``)."""
    with torch.inference_mode():
        fn(x)
        sync = torch.cuda.synchronize if x.device.type == "cuda" else (lambda *a: None)
        sync()
        t0 = time.perf_counter()
        for _ in range(repeats):
            fn(x)
        sync()
    return (time.perf_counter() - t0) / repeats / x.shape[0] * 1000


@torch.no_grad()
def style_losses(images: Tensor, contents: Tensor, crit: StyleCriterion) -> dict[str, float]:
    """The criterion's parts for stylised ``images`` of the ``contents`` (both (1, 3, H, W))."""
    return crit(images, crit.content_features(contents))[1]


def evaluate_sr(models: dict[str, nn.Module], factor: int, max_side: int = 640) -> dict:
    """PSNR / SSIM (Y, border of `factor` px cropped) and Laplacian energy on the held-out photos.

    ``models``: {name: SR net}; bicubic and the ground truth are added. Returns {"table": {method:
    {psnr, ssim, hf_energy}}, "images": {photo: {method: (3, H, W)}}}.
    """
    table: dict[str, dict[str, list]] = {}
    images: dict[str, dict[str, Tensor]] = {}
    for name, hr in heldout_photos(max_side, multiple=factor).items():
        device = next(iter(models.values())).parameters().__next__().device if models else torch.device("cpu")
        lr = degrade(hr.unsqueeze(0), factor).to(device)
        outs = {"bicubic": bicubic_upsample(lr, factor)}
        with torch.no_grad():
            for key, net in models.items():
                net.eval()
                outs[key] = net(lr)
        outs = {k: v.clamp(-1, 1).cpu() for k, v in outs.items()}
        outs["ground truth"] = hr.unsqueeze(0)
        images[name] = {k: v[0] for k, v in outs.items()}
        for key, out in outs.items():
            row = table.setdefault(key, {"psnr": [], "ssim": [], "hf_energy": []})
            if key != "ground truth":
                row["psnr"].append(image_quality.psnr(out, hr.unsqueeze(0), crop=factor))
                row["ssim"].append(image_quality.ssim(out, hr.unsqueeze(0), crop=factor))
            row["hf_energy"].append(image_quality.laplacian_energy(out, crop=factor))
    mean = {k: {m: (sum(v) / len(v) if v else None) for m, v in row.items()} for k, row in table.items()}
    return {"table": mean, "images": images}


def sr_bars(table: dict) -> dict:
    """The issue's two SR bars, from ``evaluate_sr``'s table (methods 'bicubic', 'pixel', 'feature')."""
    gt = table["ground truth"]["hf_energy"]
    gap = {k: abs(table[k]["hf_energy"] - gt) for k in ("bicubic", "pixel", "feature")}
    return {"pixel_minus_bicubic_psnr_db": table["pixel"]["psnr"] - table["bicubic"]["psnr"],
            "pixel_beats_bicubic_by_0.3dB": table["pixel"]["psnr"] - table["bicubic"]["psnr"] >= 0.3,
            "hf_energy_ratio_to_ground_truth": {k: table[k]["hf_energy"] / gt for k in ("bicubic", "pixel", "feature")},
            "feature_hf_closest_to_ground_truth": gap["feature"] < min(gap["bicubic"], gap["pixel"])}


# --- Figures ------------------------------------------------------------------------------------
def _show(ax, image: Tensor, title: str) -> None:
    from ..plotting import show_grid

    show_grid(image.unsqueeze(0) if image.dim() == 3 else image, nrow=1, ax=ax, title=title)


def style_figure(style: Tensor, rows: list[tuple[str, Tensor, Tensor, Tensor | None]], network: str, suptitle: str):
    """Rows of (name, content, transform-net output, Gatys output or None), with the style image first."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(rows), 4, figsize=(13, 3.3 * len(rows)), squeeze=False)
    for r, (name, content, fast, slow) in enumerate(rows):
        _show(axes[r, 0], style, "style image" if r == 0 else "")
        _show(axes[r, 1], content, f"held-out content: {name}")
        _show(axes[r, 2], fast, "transform net (one pass)")
        if slow is not None:
            _show(axes[r, 3], slow, "Gatys et al. (L-BFGS)")
        else:
            axes[r, 3].set_axis_off()
    fig.suptitle(f"{suptitle}\nloss network: {network}", fontsize=10)
    fig.tight_layout()
    return fig


def sr_figure(result: dict, factor: int, network: str, box: int = 96):
    """Side by side on each held-out photo: a zoomed box of bicubic, pixel, feature and the ground truth."""
    import matplotlib.pyplot as plt

    methods = [k for k in result["images"][HELDOUT[0]] if k != "ground truth"] + ["ground truth"]
    fig, axes = plt.subplots(len(result["images"]), len(methods), figsize=(3 * len(methods), 3.2 * len(result["images"])),
                             squeeze=False)
    for r, (name, outs) in enumerate(result["images"].items()):
        h, w = outs["ground truth"].shape[-2:]
        b = min(box, h, w)
        top, left = (h - b) // 2, (w - b) // 2
        for c, key in enumerate(methods):
            crop = outs[key][:, top:top + b, left:left + b]
            gt = outs["ground truth"][:, top:top + b, left:left + b]
            label = key if key == "ground truth" else f"{key}: {image_quality.psnr(crop, gt):.2f} dB (crop)"
            _show(axes[r, c], crop, f"{name}, {label}" if c == 0 else label)
    fig.suptitle(f"x{factor} super-resolution on held-out photos (centre crops)\nfeature loss: {network}", fontsize=10)
    fig.tight_layout()
    return fig


# --- Command-line runs --------------------------------------------------------------------------
def _record(model: str, data: str, budget_name: str, seed: int, s: dict, L: lossnet.LossNetwork, **extra) -> dict:
    return {"model": model, "data": data, "budget": budget_name, "seed": seed, "settings": s,
            "loss_network": L.name, **extra}


def run_style(data: str, budget: str, seed: int, out, steps: int | None = None, resume: bool = False,
              progress: bool = True, style: str = "immunohistochemistry") -> dict:
    """Train the transform net, run the Gatys baseline on a held-out photo, measure both; write figures."""
    import matplotlib.pyplot as plt

    from ..plotting import save_figure

    check_data(data)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    s = dict(style_settings(budget), style=style)
    if steps is not None:
        s["steps"] = steps
    L = lossnet.load_loss_network()
    print(f"{runtime.describe()}\nloss network: {L.description}", file=sys.stderr)
    crit = StyleCriterion(L, style_image(style, s["style_size"]))
    record = _record("fast-style", data, budget, seed, s, L, model_config=asdict(build_transform_net(s).cfg),
                     weights=crit.weights)
    t0 = time.perf_counter()
    net, history = train_style(s, crit, seed, out / "checkpoint.pt", resume, progress, record=record)
    train_seconds = time.perf_counter() - t0
    device = next(net.parameters()).device

    contents = {k: v.unsqueeze(0).to(device) for k, v in heldout_photos(s["eval_side"], multiple=4).items()}
    with torch.no_grad():
        fast = {k: net(v) for k, v in contents.items()}
    first = HELDOUT[0]
    slow, info = gatys(contents[first], crit, s["gatys_iterations"], progress=progress)
    losses = {f"transform_net/{k}": style_losses(fast[k], v, crit) for k, v in contents.items()}
    losses[f"gatys/{first}"] = style_losses(slow, contents[first], crit)
    losses[f"content_photo/{first}"] = style_losses(contents[first], contents[first], crit)
    fast_ms = ms_per_image(net, contents[first])
    gatys_ms = info["seconds"] * 1000 * GATYS_ITERATIONS / max(1, info["iterations"])  # per 500 iterations
    big = big_photo(s["big_side"])
    with torch.no_grad():
        big_out = net(big.unsqueeze(0).to(device)).cpu()

    fig = style_figure(style_image(style, s["style_size"]), [(k, contents[k][0].cpu(), fast[k][0].cpu(),
                                                           slow[0].cpu() if k == first else None) for k in contents],
                       L.description, f"fast style transfer after {s['steps']} updates ({budget} budget)")
    save_figure(fig, out / "style_transfer.png")
    fig, ax = plt.subplots(figsize=(10, 10 * big_out.shape[-2] / big_out.shape[-1]))
    _show(ax, big_out[0], f"transform net on a {big_out.shape[-1]}x{big_out.shape[-2]} image (one pass); "
                          f"loss network: {L.name}")
    save_figure(fig, out / f"stylised_{s['big_side']}.png")
    plt.close("all")
    return {
        "model": "fast-style", "data": data, "data_source": f"crops of {', '.join(CONTENT_PHOTOS)}; held out: "
        f"{', '.join(HELDOUT)}; style: {style}", "budget": budget, "device": str(device), "loss_network": L.description,
        "steps": s["steps"], "train_seconds": round(train_seconds, 1), "final_train_loss": history[-1],
        "heldout_losses": losses, "gatys": info, "ms_per_image": {
            f"transform_net@{s['eval_side']}": fast_ms,
            f"gatys_{GATYS_ITERATIONS}_iterations@{s['eval_side']}": gatys_ms},
        "speedup": gatys_ms / fast_ms, "big_image": list(big_out.shape[-2:]), "settings": record,
    }


def run_sr(data: str, budget: str, seed: int, out, steps: int | None = None, resume: bool = False,
           progress: bool = True) -> dict:
    """Train pixel-loss and feature-loss SR nets per factor, compare them with bicubic; write figures."""
    import matplotlib.pyplot as plt

    from ..plotting import save_figure

    check_data(data)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    s = sr_settings(budget)
    if steps is not None:
        s["steps"] = steps
    L = lossnet.load_loss_network()
    print(f"{runtime.describe()}\nloss network: {L.description}", file=sys.stderr)
    metrics: dict = {"model": "perceptual-sr", "data": data, "budget": budget, "loss_network": L.description,
                     "data_source": f"crops of {', '.join(CONTENT_PHOTOS)}; held out: {', '.join(HELDOUT)}; "
                                    "LR = bicubic downsampling after a sigma-1 Gaussian blur", "factors": {}}
    states = {}
    t0 = time.perf_counter()
    for factor in s["factors"]:
        models = {}
        for kind in ("pixel", "feature"):
            record = _record("perceptual-sr", data, budget, seed, s, L, kind=kind, factor=factor)
            net, history = train_sr(s, kind, factor, L, seed, out / f"sr_{kind}_x{factor}.pt", resume, progress, record)
            models[kind] = net
            states[f"{kind}_x{factor}"] = {k: v.cpu() for k, v in net.state_dict().items()}
        result = evaluate_sr(models, factor, s["eval_side"])
        metrics["factors"][f"x{factor}"] = {"table": result["table"], **sr_bars(result["table"])}
        save_figure(sr_figure(result, factor, L.description), out / f"sr_x{factor}.png")
        plt.close("all")
    metrics["train_and_eval_seconds"] = round(time.perf_counter() - t0, 1)
    metrics["settings"] = _record("perceptual-sr", data, budget, seed, s, L)
    atomic_save({"config": metrics["settings"], "models": states}, out / "checkpoint.pt")
    return metrics


def sample_from_checkpoint(state: dict, n: int, seed: int = 0, label=None) -> Tensor:
    """For `python -m course_lib sample`: n random crops of the held-out photos, stylised (fast-style)
    or super-resolved from their degraded versions by the feature-loss model (perceptual-sr)."""
    config = state["config"]
    s = config["settings"]
    g = torch.Generator().manual_seed(seed)
    photos = list(heldout_photos(512).values())
    if config["model"] == "fast-style":
        net = TransformNet(TransformNetConfig(**config["model_config"]))
        net.load_state_dict(state["net"])
        with torch.no_grad():
            return net.eval()(random_scaled_crops(photos, n, 256, g))
    factor = s["factors"][0]
    net = build_sr_net(s, factor)
    net.load_state_dict(state["models"][f"feature_x{factor}"])
    with torch.no_grad():
        return net.eval()(degrade(random_scaled_crops(photos, n, 256, g), factor)).clamp(-1, 1)
