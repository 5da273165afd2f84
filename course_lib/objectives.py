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
    Logged: the losses and the mean probabilities D(x) and D(G(z)).
    """

    saturating: bool = False
    n_classes: int = 0  # > 0: a conditional GAN, batches are (images, labels)

    def d_loss(self, G: nn.Module, D: nn.Module, batch: tuple, ctx: StepContext):
        real, *cond = batch  # cond: () or (labels,)
        with torch.no_grad():  # G is fixed in this step: no graph through it
            fake = G(ctx.noise(len(real)), *cond)
        real_logits, fake_logits = D(real, *cond), D(fake, *cond)
        loss = losses.gan_d_loss(real_logits, fake_logits)
        return loss, {
            "d_loss": loss.detach(),
            "D(x)": torch.sigmoid(real_logits.detach().float()).mean(),
            "D(G(z))": torch.sigmoid(fake_logits.detach().float()).mean(),
        }

    def g_loss(self, G: nn.Module, D: nn.Module, batch: tuple | None, ctx: StepContext):
        cond = _fake_labels(batch, self.n_classes, ctx)
        fake_logits = D(G(ctx.noise(ctx.batch_size), *cond), *cond)
        loss = losses.gan_g_loss(fake_logits, saturating=self.saturating)
        return loss, {"g_loss": loss.detach()}
