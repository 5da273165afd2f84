"""The alternating D/G training loop every lecture shares.

One *step* is one generator update, preceded by ``n_critic`` discriminator updates:

    for each step:
        repeat n_critic times:   fix G, update D  (D learns to tell real from G's current fakes)
        once:                    fix D, update G  (G learns to fool D as it is now)

What differs between GAN families (which losses, penalties, clipping, labels) lives in an
``Objective`` (see ``course_lib.objectives``); this file knows nothing model-specific. It adds what
every run needs: seeded and resumable randomness, AMP and channels_last on CUDA, an EMA copy of G,
callbacks for snapshots and logging, atomic checkpoints, and a clear stop on a NaN loss.
"""
from __future__ import annotations

import copy
import math
import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Protocol, Sequence

import torch
from torch import Tensor, nn

from .storage import atomic_save, safe_load


class TrainingDiverged(RuntimeError):
    """A loss became NaN or infinite (for fp16 with loss scaling: stayed so); the message names the
    last checkpoint written, if any."""


MAX_SKIPPED_FP16_STEPS = 20  # non-finite losses in a row that fp16 loss scaling may skip before we stop


# --- What a GAN family provides ------------------------------------------------------------------
@dataclass
class StepContext:
    """What an objective may use besides G, D and the batch."""

    noise: Callable[[int], Tensor]  # z ~ N(0, I) drawn from the run's seeded generator, on the device
    generator: torch.Generator  # CPU generator for any other draw (e.g. the penalty's eps)
    scaler: Any  # torch.amp.GradScaler (disabled unless fp16 autocast is on)
    step: int
    batch_size: int  # the data source's batch size, for G steps that draw only noise
    device: torch.device


class Objective(Protocol):
    """How D and G are scored. ``batch`` is whatever the data source yields (a tuple of tensors).

    The G step gets ``batch=None`` unless the objective sets ``g_uses_batch = True`` (a translation
    model needs source images there; an unconditional GAN needs only noise).
    """

    def d_loss(self, G: nn.Module, D: nn.Module, batch: tuple, ctx: StepContext) -> tuple[Tensor, dict]: ...

    def g_loss(self, G: nn.Module, D: nn.Module, batch: tuple, ctx: StepContext) -> tuple[Tensor, dict]: ...


# --- Data ----------------------------------------------------------------------------------------
class TensorBatches:
    """Shuffled mini-batches from in-memory tensors, resumable: its state is a permutation and a position.

    Each epoch is a new permutation drawn from the trainer's generator; the last partial batch of
    an epoch is dropped so every batch has the same size (BatchNorm statistics stay comparable).
    """

    def __init__(self, *tensors: Tensor, batch_size: int) -> None:
        if not tensors:
            raise ValueError("TensorBatches needs at least one tensor.")
        n = len(tensors[0])
        if any(len(t) != n for t in tensors):
            raise ValueError(f"All tensors must have the same length, got {[len(t) for t in tensors]}.")
        if n < batch_size:
            raise ValueError(f"The dataset has {n} items, fewer than one batch of {batch_size}; lower the batch size.")
        self.tensors, self.batch_size, self.n = tensors, batch_size, n
        self.perm: Tensor | None = None
        self.pos = 0

    def next(self, generator: torch.Generator) -> tuple[Tensor, ...]:
        if self.perm is None or self.pos + self.batch_size > self.n:
            self.perm, self.pos = torch.randperm(self.n, generator=generator), 0
        idx = self.perm[self.pos : self.pos + self.batch_size]
        self.pos += self.batch_size
        return tuple(t[idx] for t in self.tensors)

    def state_dict(self) -> dict:
        return {"perm": self.perm, "pos": self.pos}

    def load_state_dict(self, state: dict) -> None:
        self.perm, self.pos = state["perm"], int(state["pos"])


# --- Helpers -------------------------------------------------------------------------------------
def set_requires_grad(module: nn.Module, flag: bool) -> None:
    """'Fix' a network: with requires_grad False no gradient is even computed for its weights."""
    for p in module.parameters():
        p.requires_grad_(flag)


@torch.no_grad()
def ema_update(ema: nn.Module, model: nn.Module, decay: float) -> None:
    """ema <- decay * ema + (1 - decay) * model for parameters; buffers (BN statistics) copied."""
    for p_ema, p in zip(ema.parameters(), model.parameters()):
        p_ema.lerp_(p, 1.0 - decay)
    for b_ema, b in zip(ema.buffers(), model.buffers()):
        b_ema.copy_(b)


@torch.no_grad()
def refresh_batchnorm(G: nn.Module, noise: Callable[[int], Tensor], batches: int = 16, batch_size: int = 64) -> None:
    """Recompute G's BatchNorm running statistics for its current weights ("standing statistics").

    An EMA of G averages weights, but the running means were measured with G's own (non-averaged)
    weights; re-measuring them with the EMA weights makes eval-mode samples consistent (BigGAN does
    the same). No-op for a G without batch norm.
    """
    bns = [m for m in G.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not bns:
        return
    was_training = G.training
    saved = [m.momentum for m in bns]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative average over the batches below
    G.train()
    for _ in range(batches):
        G(noise(batch_size))
    for m, mom in zip(bns, saved):
        m.momentum = mom
    G.train(was_training)


def amp_dtype(device: torch.device) -> torch.dtype | None:
    """bf16 on GPUs that compute it in hardware (compute capability 8.0, Ampere, and later; no loss
    scaling needed), else fp16 with a GradScaler; None off CUDA.

    Not ``torch.cuda.is_bf16_supported()``: by default it also answers True where bf16 is only emulated
    (a T4, Colab's free GPU, or a V100), and emulated bf16 is slower than float32 there.
    """
    if device.type != "cuda":
        return None
    major, _ = torch.cuda.get_device_capability(device)
    return torch.bfloat16 if major >= 8 else torch.float16


# --- Callbacks -----------------------------------------------------------------------------------
class Callback(Protocol):
    def __call__(self, trainer: "Trainer") -> None: ...


def every(n: int, fn: Callable[["Trainer"], None]) -> Callback:
    """Call ``fn(trainer)`` after every n-th step."""
    return lambda tr: fn(tr) if tr.step % n == 0 else None


def at_steps(steps: Iterable[int], fn: Callable[["Trainer"], None]) -> Callback:
    """Call ``fn(trainer)`` after each listed step (e.g. the lecture's 100, 1000, 2000, ...)."""
    wanted = set(int(s) for s in steps)
    return lambda tr: fn(tr) if tr.step in wanted else None


def landmark_steps(total: int, gpu_schedule: Sequence[int] = (100, 1000, 2000, 5000, 20000, 50000)) -> list[int]:
    """The lecture's landmark steps scaled to a run of ``total`` steps (the last one is ``total``).

    The gpu schedule ends at 50,000; a shorter run keeps the same proportions, rounded, so the
    timeline still shows "very early, early, ..., end"; figures label the steps really run.
    """
    scale = total / gpu_schedule[-1]
    steps = sorted({max(1, int(round(s * scale))) for s in gpu_schedule} | {total})
    return [s for s in steps if s <= total]


# --- The trainer ---------------------------------------------------------------------------------
@dataclass
class Trainer:
    """Alternating D/G training with everything a lecture needs around it.

    Parameters are the two networks, the objective, their optimizers and a data source with a
    ``next(generator)`` method (``TensorBatches``). ``amp`` and ``channels_last`` default to on
    when the device is CUDA. ``ema_decay`` keeps ``G_ema``, an exponential moving average of G's
    weights, which gives steadier samples (ProGAN, StyleGAN, BigGAN all sample from one).
    """

    G: nn.Module
    D: nn.Module
    objective: Objective
    opt_G: torch.optim.Optimizer
    opt_D: torch.optim.Optimizer
    data: Any
    z_dim: int | tuple[int, ...] = 100
    n_critic: int = 1
    # D updates for the step about to run, overriding n_critic (WGAN: 100 at the start and every
    # 500th step). A function of the step only, so a resumed run follows the same schedule.
    critic_schedule: Callable[[int], int] | None = None
    ema_decay: float | None = None
    device: torch.device | str | None = None
    amp: bool | None = None
    channels_last: bool | None = None
    seed: int = 0
    log_every: int = 10
    callbacks: list = field(default_factory=list)
    checkpoint_path: str | Path | None = None
    checkpoint_every: int = 0
    config: dict = field(default_factory=dict)  # recorded in checkpoints (model settings etc.)

    def __post_init__(self) -> None:
        from .runtime import get_device

        self.device = torch.device(self.device) if self.device is not None else get_device()
        on_cuda = self.device.type == "cuda"
        self.amp = on_cuda if self.amp is None else self.amp
        self.channels_last = on_cuda if self.channels_last is None else self.channels_last
        fmt = {"memory_format": torch.channels_last} if self.channels_last else {}
        self.G.to(self.device, **fmt)
        self.D.to(self.device, **fmt)
        self._amp_dtype = (amp_dtype(self.device) or torch.bfloat16) if self.amp else None
        # Loss scaling only matters for fp16 (bf16 has fp32's exponent range).
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=self._amp_dtype == torch.float16)
        self.generator = torch.Generator().manual_seed(self.seed)
        self.G_ema = None
        if self.ema_decay is not None:
            self.G_ema = copy.deepcopy(self.G).eval()
            set_requires_grad(self.G_ema, False)
        self.step = 0
        self.train_seconds = 0.0  # wall time spent in fit(), over every session of a resumed run
        self._fit_started: float | None = None  # perf_counter() at the start of the fit() under way
        self._nonfinite_in_a_row = 0
        self.history: list[dict] = []
        self.snapshots: dict[int, Tensor] = {}
        self.last_stats: dict[str, float] = {}
        self._ctx = StepContext(
            noise=self.noise, generator=self.generator, scaler=self.scaler, step=0,
            batch_size=getattr(self.data, "batch_size", 64), device=self.device,
        )

    # -- randomness ------------------------------------------------------------------------------
    def noise(self, n: int) -> Tensor:
        """z ~ N(0, I) from the run's CPU generator, moved to the device (CUDA's RNG differs)."""
        shape = (n,) + ((self.z_dim,) if isinstance(self.z_dim, int) else tuple(self.z_dim))
        return torch.randn(shape, generator=self.generator).to(self.device)

    def _batch(self) -> tuple[Tensor, ...]:
        batch = self.data.next(self.generator)
        return tuple(t.to(self.device, non_blocking=True) for t in batch)

    def _autocast(self):
        if self._amp_dtype is None:
            return nullcontext()
        return torch.autocast(self.device.type, dtype=self._amp_dtype)

    def _update(self, loss: Tensor, opt: torch.optim.Optimizer, name: str) -> None:
        if torch.isfinite(loss.detach()):
            self._nonfinite_in_a_row = 0
        else:
            # Under fp16 a single overflow is routine: the GradScaler skips that step and lowers its
            # scale. Only a loss that stays non-finite (or any, without loss scaling) means divergence.
            self._nonfinite_in_a_row += 1
            if not self.scaler.is_enabled() or self._nonfinite_in_a_row > MAX_SKIPPED_FP16_STEPS:
                saved = self.checkpoint_path and Path(self.checkpoint_path).is_file()
                where = f" The last checkpoint written is {self.checkpoint_path}." if saved else ""
                raise TrainingDiverged(
                    f"{name} became {loss.item()} at step {self.step}.{where} Lower the learning rate, "
                    "check the data for NaNs, or (with AMP) try amp=False."
                )
        opt.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.step(opt)
        self.scaler.update()

    # -- the two steps ---------------------------------------------------------------------------
    def d_step(self) -> dict[str, Tensor]:
        """Fix G, update D on a real batch and G's current fakes."""
        self._ctx.step = self.step
        set_requires_grad(self.G, False)
        set_requires_grad(self.D, True)
        with self._autocast():
            loss, stats = self.objective.d_loss(self.G, self.D, self._batch(), self._ctx)
        self._update(loss, self.opt_D, "d_loss")
        after = getattr(self.objective, "after_d_step", None)
        if after is not None:
            after(self.D)  # e.g. WGAN's weight clipping
        return stats

    def g_step(self) -> dict[str, Tensor]:
        """Fix D, update G so that D scores its samples as real."""
        self._ctx.step = self.step
        set_requires_grad(self.G, True)
        set_requires_grad(self.D, False)
        batch = self._batch() if getattr(self.objective, "g_uses_batch", False) else None
        with self._autocast():
            loss, stats = self.objective.g_loss(self.G, self.D, batch, self._ctx)
        self._update(loss, self.opt_G, "g_loss")
        set_requires_grad(self.D, True)
        return stats

    def critic_steps(self, step: int) -> int:
        """D updates before G update number ``step + 1``: ``critic_schedule(step)`` if set, else n_critic."""
        n = self.n_critic if self.critic_schedule is None else self.critic_schedule(step)
        if int(n) < 1:
            raise ValueError(f"The critic schedule asked for {n} D updates at step {step}; it must be at least 1.")
        return int(n)

    def train_step(self) -> dict[str, float]:
        """n_critic D updates then one G update; EMA, logging, callbacks, checkpoints."""
        self.G.train()
        self.D.train()
        stats: dict[str, Tensor] = {}
        for _ in range(self.critic_steps(self.step)):
            stats.update(self.d_step())
        stats.update(self.g_step())
        self.step += 1
        if self.G_ema is not None:
            ema_update(self.G_ema, self.G, self.ema_decay)
        if self.step % self.log_every == 0 or self.step == 1:
            self.last_stats = {k: float(v) for k, v in stats.items()}
            self.history.append({"step": self.step, **self.last_stats})
        for cb in self.callbacks:
            cb(self)
        if self.checkpoint_path and self.checkpoint_every and self.step % self.checkpoint_every == 0:
            self.save(self.checkpoint_path)
        return self.last_stats

    def fit(self, steps: int, progress: bool = True, desc: str = "training") -> "Trainer":
        """Run until ``self.step == steps`` (so a resumed run continues where it stopped)."""
        from tqdm.auto import tqdm

        bar = tqdm(total=steps, initial=self.step, desc=desc, disable=not progress, mininterval=1.0)
        self._fit_started = time.perf_counter()
        try:
            while self.step < steps:
                stats = self.train_step()
                bar.update(1)
                if self.step % self.log_every == 0:
                    bar.set_postfix({k: f"{v:.3g}" for k, v in list(stats.items())[:4]}, refresh=False)
        finally:
            bar.close()
            self.train_seconds = self.seconds_trained()
            self._fit_started = None
        if self.checkpoint_path:
            self.save(self.checkpoint_path)
        return self

    def seconds_trained(self) -> float:
        """Wall time in fit() so far, the session under way included (so a checkpoint written mid-run,
        or after an interruption, counts it)."""
        running = time.perf_counter() - self._fit_started if self._fit_started is not None else 0.0
        return self.train_seconds + running

    # -- sampling --------------------------------------------------------------------------------
    def sampler(self) -> nn.Module:
        """The network to sample from: G_ema when kept (BN statistics refreshed), else G."""
        if self.G_ema is None:
            return self.G
        if getattr(self, "_ema_bn_step", None) != self.step:
            refresh_batchnorm(self.G_ema, self.refresh_noise())
            self._ema_bn_step = self.step
        return self.G_ema

    def refresh_noise(self) -> Callable[[int], Tensor]:
        """A noise source for one batch-norm refresh: one stream of fresh draws (every batch differs),
        seeded by the step so the same step refreshes the same way, and apart from the training run's
        generator so that refreshing does not shift the run's own draws."""
        g = torch.Generator().manual_seed(10_000 + self.step)
        shape = (self.z_dim,) if isinstance(self.z_dim, int) else tuple(self.z_dim)
        return lambda n: torch.randn((n, *shape), generator=g).to(self.device)

    @torch.no_grad()
    def sample(self, z: Tensor, *cond: Tensor, batch_size: int = 256) -> Tensor:
        """Images for the given noise (and labels), on the CPU, from the sampler in eval mode."""
        net = self.sampler()
        was = net.training
        net.eval()
        out = [net(z[i : i + batch_size].to(self.device), *(c[i : i + batch_size].to(self.device) for c in cond)).float().cpu()
               for i in range(0, len(z), batch_size)]
        net.train(was)
        return torch.cat(out)

    # -- checkpoints -----------------------------------------------------------------------------
    def state_dict(self) -> dict:
        return {
            "step": self.step,
            "train_seconds": self.seconds_trained(),
            "G": self.G.state_dict(),
            "D": self.D.state_dict(),
            "G_ema": self.G_ema.state_dict() if self.G_ema is not None else None,
            "opt_G": self.opt_G.state_dict(),
            "opt_D": self.opt_D.state_dict(),
            "scaler": self.scaler.state_dict(),
            "generator": self.generator.get_state(),
            "data": self.data.state_dict() if hasattr(self.data, "state_dict") else None,
            "history": self.history,
            "snapshots": self.snapshots,
            "config": self.config,
        }

    def save(self, path: str | Path) -> Path:
        return atomic_save(self.state_dict(), path)

    def check_resumable(self, path: str | Path) -> None:
        """Raise a ValueError unless ``path`` holds this very run (same ``config``; only ``steps`` may
        grow, and not where the learning rates decay over the run's length), so that ``--resume`` never
        continues one model from another's weights."""
        saved = safe_load(path, map_location="cpu").get("config") or {}
        differ = sorted(k for k in set(saved) | set(self.config) if k != "steps" and saved.get(k) != self.config.get(k))
        if differ:
            raise ValueError(f"{path} holds another run ({', '.join(differ)} differ: {saved.get('model')!r} "
                             f"against {self.config.get('model')!r}): resume with the same model, data, budget "
                             "and seed, or train into another --out.")
        if saved.get("steps") != self.config.get("steps") and self.config.get("lr_decay_from") is not None:
            raise ValueError(f"{path} was trained for {saved.get('steps')} updates, and this recipe's learning "
                             f"rates decay over the run's length: resume it with --steps {saved.get('steps')}, "
                             "or train a longer run into another --out.")

    def load_if_finished(self, path: str | Path, steps: int) -> bool:
        """Load ``path`` if it holds this very run (same ``config``); True when it reached ``steps``.

        How a notebook reuses a finished run instead of training again; a checkpoint of another run
        (other budget or settings) is left alone, with a note, and training starts afresh.
        """
        path = Path(path)
        if not path.is_file():
            return False
        if safe_load(path, map_location=self.device).get("config") != self.config:
            print(f"{path} holds another run (other settings): training afresh")
            return False
        self.load(path)
        return self.step >= steps

    def load(self, path: str | Path) -> "Trainer":
        """Resume from a checkpoint written by ``save`` (loaded with weights_only=True)."""
        state = safe_load(path, map_location=self.device)
        self.G.load_state_dict(state["G"])
        self.D.load_state_dict(state["D"])
        if self.G_ema is not None and state.get("G_ema") is not None:
            self.G_ema.load_state_dict(state["G_ema"])
        self.opt_G.load_state_dict(state["opt_G"])
        self.opt_D.load_state_dict(state["opt_D"])
        if self.scaler.is_enabled() and state.get("scaler"):  # empty when saved without fp16 loss scaling
            self.scaler.load_state_dict(state["scaler"])
        self.generator.set_state(state["generator"].cpu())
        if state.get("data") is not None and hasattr(self.data, "load_state_dict"):
            data_state = dict(state["data"])
            if data_state.get("perm") is not None:
                data_state["perm"] = data_state["perm"].cpu()
            self.data.load_state_dict(data_state)
        self.step = int(state["step"])
        self.train_seconds = float(state.get("train_seconds", 0.0))
        self.history = list(state["history"])
        self.snapshots = {int(k): v.cpu() for k, v in state["snapshots"].items()}
        return self


# --- Ready-made callbacks ------------------------------------------------------------------------
def snapshot_callback(fixed_z: Tensor, steps: Iterable[int], *fixed_cond: Tensor) -> Callback:
    """Keep samples from ``fixed_z`` at the given steps in ``trainer.snapshots`` (uint8, CPU)."""

    def take(tr: Trainer) -> None:
        images = tr.sample(fixed_z, *fixed_cond)
        tr.snapshots[tr.step] = to_uint8(images)

    return at_steps(steps, take)


def linear_lr_decay(optimisers: Sequence[torch.optim.Optimizer], start: int, end: int) -> Callback:
    """Every learning rate falls linearly from its value now to 0 between update ``start`` and ``end``.

    The rate is set from the update count after every update, so a resumed run (whose optimiser
    state carries the decayed rate) continues on the same line.
    """
    if not 0 <= start < end:
        raise ValueError(f"linear_lr_decay needs 0 <= start < end, got start={start}, end={end}.")
    base = [[group["lr"] for group in opt.param_groups] for opt in optimisers]

    def set_lr(tr: Trainer) -> None:
        scale = min(1.0, max(0.0, 1.0 - (tr.step - start) / (end - start)))
        for opt, rates in zip(optimisers, base):
            for group, lr in zip(opt.param_groups, rates):
                group["lr"] = lr * scale

    return set_lr


def to_uint8(images: Tensor) -> Tensor:
    """[-1, 1] float -> [0, 255] uint8 (compact for snapshots and caches)."""
    return ((images.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)


def from_uint8(images: Tensor) -> Tensor:
    return images.float() / 127.5 - 1.0


def is_finite_number(x: float) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x)
