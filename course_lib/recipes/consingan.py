"""ConSinGAN (Hinz et al. 2021) on one photo: budgets, the stage-by-stage training, sampling, tasks.

    python -m course_lib train consingan --budget cpu --out runs/consingan            # china
    python -m course_lib train consingan --data my_photo.jpg --out runs/mine
    python -m course_lib sample runs/consingan --n 16 --out samples.pt

Budgets (generation): gpu is the paper's (6 stages, 250 px, 2000 iterations a stage); cpu trains 5
stages on an 80 px photo for 300 iterations a stage (about 5 minutes on 2 cores); smoke is tiny.
``--steps`` overrides the iterations per stage. A checkpoint is written after every stage;
``--resume`` continues after the last finished one.

Tasks: unconditional generation (``sample``), retargeting (``retarget_sizes``: other aspect
ratios), harmonization (``task="harmonization"``: the coarsest stage is fed an augmented photo during
training, a pasted-in object at test time, see ``harmonize``).
"""
from __future__ import annotations

import time
from dataclasses import asdict, replace
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor

from ..data.photos import PHOTOS, photo
from ..losses import gradient_penalty
from ..metrics.single_image import single_image_report
from ..models.consingan import (ConSinGANConfig, GrowingGenerator, PatchCritic, image_pyramid, make_optimizers,
                                pyramid_sizes, resize)
from ..runtime import get_device, pick
from ..storage import atomic_save, safe_load
from ..training import TrainingDiverged, set_requires_grad

TASKS = ("generation", "harmonization")
LOG_EVERY = 10  # iterations between entries of the loss history


def settings(budget_name: str | None = None) -> dict:
    """Per-budget settings: ``config`` overrides ConSinGANConfig; ``harmonization`` likewise for that task."""
    return pick(
        smoke=dict(config=dict(channels=8, n_stages=3, min_size=12, max_size=24, iters_per_stage=3),
                   harmonization=dict(channels=8, n_stages=2, min_size=12, max_size=24, iters_per_stage=3,
                                      batch_norm=True, packed=False),
                   n_eval=4),
        cpu=dict(config=dict(n_stages=5, min_size=25, max_size=80, iters_per_stage=300),
                 harmonization=dict(n_stages=3, min_size=25, max_size=64, iters_per_stage=250,
                                    batch_norm=True, packed=False),
                 n_eval=50),
        gpu=dict(config=dict(),
                 harmonization=dict(n_stages=3, min_size=120, max_size=250, iters_per_stage=1000,
                                    batch_norm=True, packed=False),
                 n_eval=100),
        budget_name=budget_name,
    )


def make_config(budget_name: str | None = None, task: str = "generation", **overrides) -> ConSinGANConfig:
    s = settings(budget_name)
    base = s["config"] if task == "generation" else s["harmonization"]
    return ConSinGANConfig(**{**base, **overrides})


def load_photo(data: str | Path | Tensor) -> Tensor:
    """A bundled photo name, an image path, or a (C, H, W) tensor in [-1, 1] -> (3, H, W) float32.

    Grayscale files become RGB and transparent ones are composited over white (``load_image``); a
    1-channel tensor is repeated to RGB. Anything else stops with a message saying what to do.
    """
    if isinstance(data, Tensor):
        image = data.detach().float().cpu()
        if image.dim() == 4 and image.shape[0] == 1:
            image = image[0]
        if image.dim() != 3 or image.shape[0] not in (1, 3):
            raise ValueError(f"Expected one image shaped (3, H, W) or (1, H, W), got {tuple(data.shape)}; "
                             "drop an alpha channel with image[:3].")
        if not torch.isfinite(image).all():
            raise ValueError("The image has NaN or infinite pixels.")
        return image.expand(3, -1, -1).contiguous() if image.shape[0] == 1 else image
    return photo(str(data))


def describe_source(data, image: Tensor, size: tuple[int, int]) -> str:
    where = "bundled photo" if isinstance(data, str) and data in PHOTOS else "image"
    name = "a tensor" if isinstance(data, Tensor) else str(data)
    return f"{where} {name} ({image.shape[1]}x{image.shape[2]} px, trained at {size[0]}x{size[1]})"


# --- The trainer ---------------------------------------------------------------------------------
class ConSinGANTrainer:
    """Grows and trains G and D stage by stage on one photo; samples, reconstructs, checkpoints.

    ``reals`` is the photo at every stage's size; ``fixed_noise`` the reconstruction inputs (the
    coarsest stage gets the downsampled photo, later stages one fixed noise map each); ``noise_amp``
    each stage's noise amplitude (1 at stage 0, then 0.1 x the RMSE of the stage's reconstruction
    before it trains). Random draws: training noise from a generator on the device, everything else
    (fixed noise, the penalty's eps, augmentations) from a CPU generator; both seeded.
    """

    def __init__(self, image: Tensor, cfg: ConSinGANConfig, seed: int = 0, device=None,
                 task: str = "generation", record: dict | None = None, sizes: list | None = None) -> None:
        if task not in TASKS:
            raise ValueError(f"Unknown task {task!r}; use one of {', '.join(TASKS)}.")
        self.cfg, self.seed, self.task = cfg, seed, task
        self.device = torch.device(device) if device is not None else get_device()
        image = load_photo(image)
        self.sizes = [tuple(s) for s in sizes] if sizes else pyramid_sizes(
            image.shape[1], image.shape[2], cfg.n_stages, cfg.min_size, cfg.max_size, cfg.packed)
        full = resize(image[None], self.sizes[-1])  # (1, 3, h, w): the photo at the finest stage
        self.reals = [r.to(self.device) for r in image_pyramid(full, self.sizes)]
        torch.manual_seed(seed)  # layer initialisation
        self.G = GrowingGenerator(cfg).to(self.device)
        self.D = PatchCritic(cfg).to(self.device)
        self.fixed_noise: list[Tensor] = []
        self.noise_amp: list[float] = []
        self.stages_done = 0
        self.stage_seconds: list[float] = []
        self.history: list[dict] = []
        self.noise_gen = torch.Generator(device=self.device).manual_seed(seed)
        self.cpu_gen = torch.Generator().manual_seed(seed + 1)
        self.record = {"model": "consingan", "task": task, "seed": seed, "model_config": asdict(cfg),
                       "sizes": [list(s) for s in self.sizes], **(record or {})}

    @property
    def real(self) -> Tensor:
        """The photo at the finest stage's size, (3, h, w) on the CPU."""
        return self.reals[-1][0].cpu()

    # -- one stage --------------------------------------------------------------------------------
    def start_stage(self) -> None:
        """Grow G (the new block copies the previous), fix the reconstruction input, set the noise
        amplitude and fresh optimizers. The critic keeps the previous stage's weights: the paper's
        "new critic initialised from the previous one"."""
        k = self.stages_done
        if k >= self.cfg.n_stages:
            raise ValueError(f"All {self.cfg.n_stages} stages are trained already.")
        while self.G.n_stages < k + 1:
            self.G.grow()
        if len(self.fixed_noise) == k:
            if k == 0:
                self.fixed_noise.append(self.reals[0])  # reconstruct from the downsampled photo itself
            else:
                shape = self.G.noise_shapes(self.sizes[: k + 1])[k]
                self.fixed_noise.append(torch.randn((1, *shape), generator=self.cpu_gen).to(self.device))
            self.noise_amp.append(1.0 if k == 0 else 0.0)
            if k > 0:  # how far off the reconstruction is before this stage learns anything
                with torch.no_grad():
                    rec = self.G(self.fixed_noise, self.sizes[: k + 1], self.noise_amp)
                self.noise_amp[k] = self.cfg.noise_amp_init * float(F.mse_loss(rec, self.reals[k]).sqrt())
        self.opt_G, self.opt_D, self.sched_G, self.sched_D = make_optimizers(self.G, self.D, self.cfg)

    def stage_input(self, n: int, sizes) -> list[Tensor]:
        """Random inputs for training: noise, or for harmonization an augmented photo at stage 0."""
        noise = self.G.draw_noise(sizes, n, self.noise_gen, self.device)
        if self.task == "harmonization":
            noise[0] = augment(self.reals[0].cpu(), self.cpu_gen).to(self.device)
        return noise

    def step(self) -> dict[str, Tensor]:
        """One iteration: d_steps critic updates (WGAN-GP, per-pixel penalty), then G (adversarial +
        reconstruction), on the newest stage's size."""
        cfg, k = self.cfg, self.G.n_stages - 1
        real, sizes = self.reals[k], self.sizes[: k + 1]  # (1, 3, h, w)
        fake = self.G(self.stage_input(1, sizes), sizes, self.noise_amp)  # (1, 3, h, w); G is fixed during D's steps
        for _ in range(cfg.d_steps):
            d_real, d_fake = self.D(real).mean(), self.D(fake.detach()).mean()
            gp = gradient_penalty(self.D, real, fake, per_pixel=True, generator=self.cpu_gen)
            d_loss = d_fake - d_real + cfg.gp_weight * gp
            self.opt_D.zero_grad(set_to_none=True)
            d_loss.backward()
            self.opt_D.step()
        set_requires_grad(self.D, False)
        g_adv = -self.D(fake).mean()
        rec = F.mse_loss(self.G(self.fixed_noise, sizes, self.noise_amp), real)
        g_loss = g_adv + cfg.rec_weight * rec
        self.opt_G.zero_grad(set_to_none=True)
        g_loss.backward()
        for _ in range(cfg.g_steps):  # the authors' code applies each G gradient g_steps times
            self.opt_G.step()
        set_requires_grad(self.D, True)
        self.sched_G.step()
        self.sched_D.step()
        return {"d_loss": d_loss.detach(), "wasserstein": (d_real - d_fake).detach(), "gp": gp.detach(),
                "g_adv": g_adv.detach(), "rec": rec.detach()}

    def fit(self, progress: bool = True, checkpoint: str | Path | None = None,
            until: int | None = None) -> "ConSinGANTrainer":
        """Train the remaining stages (or until ``until`` stages are done); a checkpoint after each
        stage (the last good one survives a NaN)."""
        from tqdm.auto import tqdm

        iters = self.cfg.iters_per_stage
        until = self.cfg.n_stages if until is None else min(until, self.cfg.n_stages)
        todo = max(0, until - self.stages_done)
        bar = tqdm(total=todo * iters, desc="ConSinGAN", disable=not progress or todo == 0, mininterval=1.0)
        while self.stages_done < until:
            k = self.stages_done
            self.start_stage()
            bar.set_description(f"stage {k + 1}/{self.cfg.n_stages} ({self.sizes[k][0]}x{self.sizes[k][1]})")
            t0 = time.perf_counter()
            for it in range(iters):
                stats = self.step()
                if not all(torch.isfinite(v) for v in stats.values()):
                    bad = ", ".join(f"{n}={float(v)}" for n, v in stats.items())
                    saved = (f"The checkpoint {checkpoint} holds the {k} finished stages; resume from it with "
                             "lower lr_g/lr_d.") if checkpoint and k else "No stage had finished yet."
                    raise TrainingDiverged(f"A loss became NaN/inf at stage {k + 1}, iteration {it + 1} ({bad}). {saved}")
                if it % LOG_EVERY == 0 or it == iters - 1:
                    self.history.append({"stage": k, "iter": it, **{n: float(v) for n, v in stats.items()}})
                    bar.set_postfix(rec=f"{float(stats['rec']):.3g}", w=f"{float(stats['wasserstein']):.3g}", refresh=False)
                bar.update(1)
            self.stage_seconds.append(round(time.perf_counter() - t0, 2))
            self.stages_done += 1
            if checkpoint:
                atomic_save(self.state_dict(), checkpoint)
        bar.close()
        return self

    # -- sampling ---------------------------------------------------------------------------------
    @torch.no_grad()
    def sample(self, n: int = 1, seed: int = 0, from_stage: int = 0, base: list[Tensor] | None = None,
               sizes: list | None = None, stage0: Tensor | None = None, batch_size: int = 25) -> Tensor:
        """n images (n, 3, h, w) on the CPU, drawn on a CPU generator seeded with ``seed``.

        from_stage: stages below it take ``base`` (default: the reconstruction inputs, i.e. the
        photo's own layout) and only stages from it on get new noise. sizes: other stage sizes
        (retargeting). stage0: an image fed to the coarsest stage instead of noise (harmonization).
        """
        k = self.G.n_stages
        sizes = [tuple(s) for s in (sizes or self.sizes)][:k]
        if not 0 <= from_stage < k:
            raise ValueError(f"from_stage must be in 0..{k - 1}, got {from_stage}.")
        if from_stage and sizes != self.sizes[:k] and base is None:
            raise ValueError("Keeping the photo's layout (from_stage > 0) needs the training sizes; give base noise.")
        base = base if base is not None else self.fixed_noise
        g = torch.Generator().manual_seed(seed)
        self.G.eval()
        out = []
        for start in range(0, n, batch_size):
            b = min(batch_size, n - start)
            noise = self.G.draw_noise(sizes, b, g, self.device)
            for i in range(from_stage):
                noise[i] = base[i].to(self.device).expand_as(noise[i])
            if stage0 is not None:
                noise[0] = resize(load_photo(stage0)[None], sizes[0]).to(self.device).expand(b, -1, -1, -1)
            out.append(self.G(noise, sizes, self.noise_amp).float().cpu())
        self.G.train()
        return torch.cat(out)

    @torch.no_grad()
    def reconstruct(self) -> Tensor:
        """G's output for the fixed reconstruction inputs, (3, h, w) on the CPU: close to the photo."""
        k = self.G.n_stages
        return self.G(self.fixed_noise, self.sizes[:k], self.noise_amp)[0].float().cpu()

    # -- checkpoints ------------------------------------------------------------------------------
    def state_dict(self) -> dict:
        return {"config": self.record, "image": self.real, "G": self.G.state_dict(), "D": self.D.state_dict(),
                "fixed_noise": [t.cpu() for t in self.fixed_noise], "noise_amp": list(self.noise_amp),
                "stages_done": self.stages_done, "stage_seconds": list(self.stage_seconds),
                "history": self.history, "noise_gen": self.noise_gen.get_state(), "cpu_gen": self.cpu_gen.get_state()}

    @classmethod
    def from_state(cls, state: dict, device=None) -> "ConSinGANTrainer":
        """Rebuild a trainer (to sample, or to go on training) from ``state_dict()``."""
        record = dict(state["config"])
        if record.get("model") != "consingan":
            raise ValueError(f"This checkpoint is from {record.get('model')!r}, not a ConSinGAN run.")
        cfg = ConSinGANConfig(**record["model_config"])
        tr = cls(state["image"], cfg, seed=record["seed"], device=device, task=record["task"], record=record,
                 sizes=record["sizes"])
        for _ in range(len(state["fixed_noise"]) - 1):
            tr.G.grow()
        tr.G.load_state_dict(state["G"])
        tr.D.load_state_dict(state["D"])
        tr.fixed_noise = [t.to(tr.device) for t in state["fixed_noise"]]
        tr.noise_amp = [float(a) for a in state["noise_amp"]]
        tr.stages_done = int(state["stages_done"])
        tr.stage_seconds = list(state["stage_seconds"])
        tr.history = list(state["history"])
        saved = state["noise_gen"].cpu()
        if saved.numel() == tr.noise_gen.get_state().numel():
            tr.noise_gen.set_state(saved)
        else:  # a CUDA generator's state on a CPU machine (or back): same seed, another stream
            tr.noise_gen.manual_seed(record["seed"])
        tr.cpu_gen.set_state(state["cpu_gen"].cpu())
        return tr


# --- Tasks ---------------------------------------------------------------------------------------
def retarget_sizes(sizes: list, height_factor: float = 1.0, width_factor: float = 1.0) -> list[tuple[int, int]]:
    """Every stage's size stretched: the same generator fills a wider (or taller) canvas."""
    return [(max(1, round(h * height_factor)), max(1, round(w * width_factor))) for h, w in sizes]


def augment(image: Tensor, generator: torch.Generator) -> Tensor:
    """A training input for harmonization, (1, 3, h, w): the coarse photo with, most of the time
    (p 0.9), 1-2 rectangles of a random colour pasted in, and sometimes (p 0.25) its colours changed
    (noise, channel shuffle, inversion or a brightness change). Learning to turn such pastes back into
    the photo is what later blends a real pasted object in (the authors' code uses albumentations'
    Cutout and colour transforms the same way)."""
    x = image.clone()  # (1, 3, h, w)
    _, _, h, w = x.shape
    u = lambda: float(torch.rand((), generator=generator))  # noqa: E731
    if u() < 0.25:
        kind = int(torch.randint(4, (), generator=generator))
        if kind == 0:
            x = x + 0.1 * torch.randn(x.shape, generator=generator)
        elif kind == 1:
            x = x[:, torch.randperm(3, generator=generator)]
        elif kind == 2:
            x = -x
        else:
            x = x * (0.6 + 0.8 * u())
    if u() < 0.9:
        n_holes = 1 + int(u() < 0.5)
        frac = (0.25, 0.5) if n_holes == 1 else (0.12, 0.25)
        for _ in range(n_holes):
            hh = max(1, int(h * (frac[0] + (frac[1] - frac[0]) * u())))
            ww = max(1, int(w * (frac[0] + (frac[1] - frac[0]) * u())))
            top, left = int(u() * (h - hh + 1)), int(u() * (w - ww + 1))
            x[:, :, top: top + hh, left: left + ww] = (torch.rand(3, generator=generator) * 2 - 1).view(1, 3, 1, 1)
    return x.clamp(-1, 1)


def paste(background: Tensor, obj: Tensor, box: tuple[int, int, int, int]) -> tuple[Tensor, Tensor]:
    """Paste ``obj`` (3, h, w) resized into ``box`` = (top, left, height, width) of ``background``
    (3, H, W): the naive cut-and-paste image and its mask (1, H, W)."""
    top, left, hh, ww = box
    H, W = background.shape[1:]
    if top < 0 or left < 0 or top + hh > H or left + ww > W or hh < 1 or ww < 1:
        raise ValueError(f"The box {box} does not fit a {H}x{W} image.")
    naive, mask = background.clone(), torch.zeros(1, H, W)
    naive[:, top: top + hh, left: left + ww] = resize(obj[None], (hh, ww))[0]
    mask[:, top: top + hh, left: left + ww] = 1.0
    return naive, mask


def harmonize(tr: ConSinGANTrainer, naive: Tensor, mask: Tensor | None = None, seed: int = 0) -> Tensor:
    """Feed the naive image to the coarsest stage; the finer stages redraw it in the photo's
    textures and colours. With a mask, the result replaces only the pasted region (softened by 1 px)."""
    out = tr.sample(1, seed=seed, stage0=naive)[0]  # (3, h, w)
    if mask is None:
        return out
    from ..metrics.single_image import blurred

    naive_s = resize(naive[None], out.shape[1:])[0]
    soft = blurred(resize(mask[None], out.shape[1:])[0], 1.0).clamp(0, 1)
    return soft * out + (1 - soft) * naive_s


def colour_gap(image: Tensor, mask: Tensor) -> float:
    """Distance between the mean RGB colour inside the mask and outside it (pasted vs photo)."""
    m = resize(mask[None], image.shape[1:])[0] > 0.5  # (1, h, w)
    inside = image[:, m[0]].mean(1)
    outside = image[:, ~m[0]].mean(1)
    return float((inside - outside).norm())


# --- Evaluation, figures, the command line ----------------------------------------------------
def evaluate(tr: ConSinGANTrainer, n: int, seed: int = 1234) -> dict:
    """SIFID with its baselines, diversity, and the reconstruction's SIFID, for n samples."""
    samples = tr.sample(n, seed=seed)
    report = single_image_report(tr.real, samples, seed=seed)
    from ..metrics.inception import sifid

    report["sifid_reconstruction"] = sifid(tr.real, tr.reconstruct())
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in report.items()}


def save_figures(tr: ConSinGANTrainer, out: Path, title: str) -> list[Path]:
    import matplotlib.pyplot as plt

    from .. import plotting

    images = torch.cat([tr.real[None], tr.reconstruct()[None], tr.sample(14, seed=7)])
    fig, ax = plt.subplots(figsize=(8, 8 * images.shape[2] / images.shape[3] + 0.6))
    plotting.show_grid(images, nrow=4, ax=ax, title=f"{title}\nthe photo, its reconstruction, 14 samples")
    paths = [plotting.save_figure(fig, out / "samples.png")]
    rows = [tr.sample(6, seed=11, from_stage=s) for s in range(tr.G.n_stages)]
    fig, ax = plt.subplots(figsize=(9, 1.5 * len(rows) * images.shape[2] / images.shape[3] + 0.6))  # 1.5 in a panel
    plotting.show_grid(torch.cat(rows), nrow=6, ax=ax,
                       title="new noise from stage s on (row s), the photo's own inputs below it")
    paths.append(plotting.save_figure(fig, out / "stage_noise.png"))
    plt.close("all")
    return paths


def run(data: str, budget: str, seed: int, out, steps: int | None = None, resume: bool = False,
        progress: bool = True) -> dict:
    """Train ConSinGAN for unconditional generation on ``data`` (a bundled photo name or an image path).

    Writes out/checkpoint.pt (after every stage), samples.png and stage_noise.png; returns the
    metrics (time per stage and in total, SIFID with baselines, diversity). ``steps``: iterations
    per stage instead of the budget's.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    cfg = make_config(budget)
    if steps is not None:
        if steps < 1:
            raise ValueError(f"--steps (iterations per stage) must be at least 1, got {steps}.")
        cfg = replace(cfg, iters_per_stage=steps)
    ckpt = out / "checkpoint.pt"
    image = load_photo(data)
    tr = ConSinGANTrainer(image, cfg, seed=seed, record={"data": str(data), "budget": budget})
    tr.record["data_source"] = describe_source(data, image, tr.sizes[-1])
    if resume and ckpt.is_file():
        state = safe_load(ckpt)
        mine = {k: tr.record[k] for k in ("model_config", "data", "seed", "task", "sizes")}
        theirs = {k: state["config"].get(k) for k in mine}
        if mine != theirs:
            raise ValueError(f"{ckpt} was trained with other settings; use another --out, or run without --resume.")
        tr = ConSinGANTrainer.from_state(state)
    tr.fit(progress=progress, checkpoint=ckpt)
    s = settings(budget)
    metrics = {"model": "consingan", "task": "generation", "data": str(data), "data_source": tr.record["data_source"],
               "budget": budget, "device": str(tr.device), "seed": seed, "sizes": tr.record["sizes"],
               "iters_per_stage": cfg.iters_per_stage, "stage_seconds": tr.stage_seconds,
               "seconds": round(sum(tr.stage_seconds), 2), "noise_amp": [round(a, 4) for a in tr.noise_amp]}
    metrics.update(evaluate(tr, s["n_eval"]))
    save_figures(tr, out, f"ConSinGAN on {tr.record['data_source']}")
    metrics["settings"] = tr.record
    return metrics


def sample_from_checkpoint(state: dict, n: int, seed: int = 0, label: int | None = None) -> Tensor:
    """``python -m course_lib sample``: n random samples (n, 3, h, w) in [-1, 1] from a checkpoint."""
    if label is not None:
        raise ValueError("ConSinGAN is unconditional: drop --label.")
    if n < 1:
        raise ValueError(f"--n must be at least 1, got {n}.")
    tr = ConSinGANTrainer.from_state(state)
    if tr.stages_done == 0:
        raise ValueError("This checkpoint has no finished stage yet; train longer first.")
    return tr.sample(n, seed=seed)
