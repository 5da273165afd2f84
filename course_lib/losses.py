"""Adversarial losses as plain functions of the discriminator's raw outputs (logits).

No sigmoid + BCELoss anywhere: with D(x) = sigmoid(l),

    -log D(x)     = softplus(-l)        (real scored as real)
    -log(1 - D(x)) = softplus(l)         (fake scored as fake)

which is exact and never takes log(0). Each function returns a scalar to *minimise*.
"""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor


# --- Original GAN (Goodfellow et al. 2014) ------------------------------------------------------
def gan_d_loss(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """D's loss: -[log D(x) + log(1 - D(G(z)))], i.e. binary cross-entropy with targets 1 and 0."""
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def gan_g_loss(fake_logits: Tensor, saturating: bool = False) -> Tensor:
    """G's loss.

    non-saturating (default): -log D(G(z)); strong gradients while D rejects the fakes.
    saturating (the minimax game as written): log(1 - D(G(z))) = -softplus(l); its gradient
    sigmoid(l) vanishes exactly when D is confident that the sample is fake, i.e. early in training.
    """
    if saturating:
        return -F.softplus(fake_logits).mean()
    return F.softplus(-fake_logits).mean()


# --- Wasserstein GAN (Arjovsky et al. 2017) -----------------------------------------------------
def wgan_d_loss(real_scores: Tensor, fake_scores: Tensor) -> Tensor:
    """The critic maximises E[C(x)] - E[C(G(z))]; we minimise the negative."""
    return fake_scores.mean() - real_scores.mean()


def wgan_g_loss(fake_scores: Tensor) -> Tensor:
    return -fake_scores.mean()


# --- Hinge (Lim & Ye 2017; SAGAN, BigGAN) and least squares (Mao et al. 2017; CycleGAN) ----------
def hinge_d_loss(real_scores: Tensor, fake_scores: Tensor) -> Tensor:
    return F.relu(1.0 - real_scores).mean() + F.relu(1.0 + fake_scores).mean()


def hinge_g_loss(fake_scores: Tensor) -> Tensor:
    return -fake_scores.mean()


def lsgan_d_loss(real_scores: Tensor, fake_scores: Tensor) -> Tensor:
    """Least squares to targets 1 (real) and 0 (fake), halved as in the LSGAN paper."""
    return 0.5 * ((real_scores - 1.0) ** 2).mean() + 0.5 * (fake_scores**2).mean()


def lsgan_g_loss(fake_scores: Tensor) -> Tensor:
    return 0.5 * ((fake_scores - 1.0) ** 2).mean()


# --- Penalties -----------------------------------------------------------------------------------
def _input_gradient(critic: Callable[..., Tensor], x: Tensor, extra: tuple, scaler=None) -> Tensor:
    """d critic(x).sum() / dx with a graph, so the penalty itself can be backpropagated.

    Under fp16 autocast the scores are scaled before autograd.grad and the gradient unscaled after,
    as torch.amp's recipe for gradient penalties prescribes (small gradients would underflow).
    """
    scores = critic(x, *extra).sum()
    if scaler is not None and scaler.is_enabled():
        (grad,) = torch.autograd.grad(scaler.scale(scores), x, create_graph=True)
        return grad / scaler.get_scale()
    (grad,) = torch.autograd.grad(scores, x, create_graph=True)
    return grad


def gradient_penalty(
    critic: Callable[..., Tensor],
    real: Tensor,
    fake: Tensor,
    labels: Tensor | None = None,
    *,
    per_pixel: bool = False,
    generator: torch.Generator | None = None,
    scaler=None,
) -> Tensor:
    """WGAN-GP's penalty (Gulrajani et al. 2017): mean of (||grad_x C(x_hat)||_2 - 1)^2.

    x_hat = eps * real + (1 - eps) * fake with eps ~ U(0, 1) drawn per sample: the penalty is taken
    at random points on lines between real and fake samples, not at the real samples.

    per_pixel: take the norm over channels at each pixel instead of over the whole sample, and
    average over pixels too: ConSinGAN's official code does this (with lambda 0.1).
    generator: a CPU torch.Generator for eps, so runs are repeatable and resumable.
    """
    if real.shape != fake.shape:
        raise ValueError(f"real and fake must have the same shape, got {tuple(real.shape)} and {tuple(fake.shape)}.")
    eps_shape = (real.shape[0],) + (1,) * (real.dim() - 1)  # (B, 1, 1, 1) or (B, 1)
    eps = torch.rand(eps_shape, generator=generator).to(device=real.device, dtype=real.dtype)
    x_hat = (eps * real.detach() + (1 - eps) * fake.detach()).requires_grad_(True)
    extra = () if labels is None else (labels,)
    grad = _input_gradient(critic, x_hat, extra, scaler)
    if per_pixel:
        norms = grad.norm(2, dim=1)  # (B, H, W)
    else:
        norms = grad.flatten(1).norm(2, dim=1)  # (B,)
    return ((norms - 1.0) ** 2).mean()


def r1_penalty(critic: Callable[..., Tensor], real: Tensor, labels: Tensor | None = None, scaler=None) -> Tensor:
    """R1 (Mescheder et al. 2018): E[||grad_x D(x)||^2] at real samples (StyleGAN uses gamma/2 * R1)."""
    x = real.detach().requires_grad_(True)
    extra = () if labels is None else (labels,)
    grad = _input_gradient(critic, x, extra, scaler)
    return grad.pow(2).flatten(1).sum(1).mean()
