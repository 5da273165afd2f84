"""Objectives: how each GAN family scores D and G, for ``course_lib.training.Trainer``.

An objective turns (G, D, a batch, noise) into a loss and a few statistics to log. The loss
formulas themselves are plain functions in ``course_lib.losses``; objectives only decide what to
feed them. Conditional models get their labels as extra arguments: G(z, y), D(x, y).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from . import losses
from .training import StepContext


def _fake_labels(batch: tuple | None, n_classes: int, ctx: StepContext) -> tuple[Tensor, ...]:
    """Labels for G's samples: none for an unconditional model, else uniform over the classes."""
    if n_classes == 0:
        return ()
    y = torch.randint(0, n_classes, (ctx.batch_size,), generator=ctx.generator)
    return (y.to(ctx.device),)


@dataclass
class GANObjective:
    """The original GAN (Goodfellow et al. 2014) on logits.

    D: minimise -[log D(x) + log(1 - D(G(z)))].
    G: non-saturating -log D(G(z)) by default; ``saturating=True`` gives the minimax log(1 - D(G(z))).
    Optional R1 (Mescheder, Geiger & Nowozin 2018): ``r1_gamma`` > 0 adds gamma/2 * E||grad_x D(x)||^2
    at real images to D's loss: D may not grow steep slopes around the real data. Without such a
    penalty, the paper shows, even a GAN with one parameter per player circles its equilibrium instead
    of converging to it. ``r1_every`` = k takes it on one D step in k, weighted k times (StyleGAN2's
    lazy regularisation, Karras et al. 2020), for a fraction of the cost.
    Logged: the losses, the mean probabilities D(x) and D(G(z)), and ``r1`` on the steps that take it.
    """

    saturating: bool = False
    n_classes: int = 0  # > 0: a conditional GAN, batches are (images, labels)
    r1_gamma: float = 0.0  # 0: no penalty (the original GAN)
    r1_every: int = 1

    def __post_init__(self) -> None:
        if self.r1_gamma < 0 or self.r1_every < 1:
            raise ValueError(f"r1_gamma must be >= 0 and r1_every >= 1, got {self.r1_gamma} and {self.r1_every}.")

    def d_loss(self, G: nn.Module, D: nn.Module, batch: tuple, ctx: StepContext):
        real, *cond = batch  # cond: () or (labels,)
        with torch.no_grad():  # G is fixed in this step: no graph through it
            fake = G(ctx.noise(len(real)), *cond)
        real_logits, fake_logits = D(real, *cond), D(fake, *cond)
        loss = losses.gan_d_loss(real_logits, fake_logits)
        stats = {
            "d_loss": loss.detach(),  # the GAN loss alone, comparable between steps with and without R1
            "D(x)": torch.sigmoid(real_logits.detach().float()).mean(),
            "D(G(z))": torch.sigmoid(fake_logits.detach().float()).mean(),
        }
        if self.r1_gamma > 0 and ctx.step % self.r1_every == 0:
            r1 = losses.r1_penalty(D, real, *cond, scaler=ctx.scaler)
            loss = loss + 0.5 * self.r1_gamma * self.r1_every * r1
            stats["r1"] = r1.detach()
        return loss, stats

    def g_loss(self, G: nn.Module, D: nn.Module, batch: tuple | None, ctx: StepContext):
        cond = _fake_labels(batch, self.n_classes, ctx)
        fake_logits = D(G(ctx.noise(ctx.batch_size), *cond), *cond)
        loss = losses.gan_g_loss(fake_logits, saturating=self.saturating)
        return loss, {"g_loss": loss.detach()}


@dataclass
class WGANObjective:
    """WGAN with weight clipping (Arjovsky, Chintala & Bottou 2017).

    The critic C maximises E[C(x)] - E[C(G(z))], an estimate of the Wasserstein-1 distance as long
    as C is Lipschitz; the paper enforces that crudely by clipping every weight of C to
    [-clip, clip] after each update (``after_d_step``). G minimises -E[C(G(z))].
    Optimiser (RMSprop 5e-5) and the critic schedule (5 steps, 100 at the start and every 500th
    step) are set up by the recipe. Logged: the losses and ``wasserstein``, E[C(x)] - E[C(G(z))].
    """

    clip: float = 0.01  # paper: 0.01

    def d_loss(self, G: nn.Module, D: nn.Module, batch: tuple, ctx: StepContext):
        real = batch[0]
        with torch.no_grad():
            fake = G(ctx.noise(len(real)))
        real_scores, fake_scores = D(real), D(fake)
        loss = losses.wgan_d_loss(real_scores, fake_scores)
        return loss, {"d_loss": loss.detach(), "wasserstein": -loss.detach()}

    @torch.no_grad()
    def after_d_step(self, D: nn.Module) -> None:
        for p in D.parameters():
            p.clamp_(-self.clip, self.clip)

    def g_loss(self, G: nn.Module, D: nn.Module, batch: tuple | None, ctx: StepContext):
        loss = losses.wgan_g_loss(D(G(ctx.noise(ctx.batch_size))))
        return loss, {"g_loss": loss.detach()}


@dataclass
class WGANGPObjective:
    """WGAN-GP (Gulrajani et al. 2017): the critic's Lipschitz constraint as a gradient penalty.

    C minimises E[C(G(z))] - E[C(x)] + lambda * E[(||grad C(x_hat)||_2 - 1)^2], the penalty taken at
    x_hat = eps * x + (1 - eps) * G(z), eps ~ U(0, 1) per sample (``losses.gradient_penalty``, with the
    run's generator for eps and the AMP scaler). G minimises -E[C(G(z))]. The critic must not use
    batch norm (the penalty treats samples independently). Logged: the losses, ``wasserstein``
    (E[C(x)] - E[C(G(z))], the critic's estimate of the distance) and ``gp`` (the penalty, unweighted,
    on the steps that take it).
    Two options from ProGAN (Karras et al. 2018), which trains WGAN-GP with one critic step per G
    step: ``drift`` > 0 adds drift * E[C(x)^2] (their epsilon_drift, 0.001), so that the critic's
    scores, which the loss leaves free up to a constant, do not wander far from 0; ``gp_every`` = k
    takes the penalty, weighted k times, on the critic steps of one G step in k (lazy regularisation
    as in StyleGAN2; with one critic step per G step, one critic step in k).
    """

    gp_weight: float = 10.0  # paper: lambda = 10
    drift: float = 0.0  # ProGAN: 0.001
    gp_every: int = 1

    def __post_init__(self) -> None:
        if self.gp_weight < 0 or self.drift < 0 or self.gp_every < 1:
            raise ValueError(f"gp_weight and drift must be >= 0 and gp_every >= 1, got {self.gp_weight}, "
                             f"{self.drift} and {self.gp_every}.")

    def d_loss(self, G: nn.Module, D: nn.Module, batch: tuple, ctx: StepContext):
        real = batch[0]
        with torch.no_grad():
            fake = G(ctx.noise(len(real)))
        real_scores, fake_scores = D(real), D(fake)
        wasserstein_loss = losses.wgan_d_loss(real_scores, fake_scores)
        loss = wasserstein_loss
        stats = {"wasserstein": -wasserstein_loss.detach()}
        if self.drift > 0:
            loss = loss + self.drift * real_scores.float().pow(2).mean()
        if ctx.step % self.gp_every == 0:
            gp = losses.gradient_penalty(D, real, fake, generator=ctx.generator, scaler=ctx.scaler)
            loss = loss + self.gp_weight * self.gp_every * gp
            stats["gp"] = gp.detach()
        stats["d_loss"] = loss.detach()
        return loss, stats

    def g_loss(self, G: nn.Module, D: nn.Module, batch: tuple | None, ctx: StepContext):
        loss = losses.wgan_g_loss(D(G(ctx.noise(ctx.batch_size))))
        return loss, {"g_loss": loss.detach()}
