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


# =================================================================================================
# Perceptual losses (Johnson, Alahi & Fei-Fei 2016; Gatys, Ecker & Bethge 2016)
# Functions of a frozen loss network's feature maps (course_lib.models.loss_network) and of images.
# =================================================================================================
def gram_matrix(features: Tensor) -> Tensor:
    """G = F F^T / (C H W): (B, C, H, W) feature maps -> (B, C, C) channel co-activations.

    Entry (c, c') is how strongly channels c and c' fire together, averaged over positions: *which*
    textures occur, not *where*. Johnson et al. normalise by C*H*W, so that a layer's value does not
    grow with the image size. Computed in float32 (autocast would overflow the sums in fp16).
    """
    if features.dim() != 4:
        raise ValueError(f"gram_matrix takes feature maps shaped (B, C, H, W), got {tuple(features.shape)}.")
    b, c, h, w = features.shape
    f = features.float().reshape(b, c, h * w)  # (B, C, HW)
    return torch.bmm(f, f.transpose(1, 2)) / (c * h * w)  # (B, C, C)


def content_loss(features: Tensor, target: Tensor) -> Tensor:
    """Feature reconstruction loss: ||phi(y) - phi(y_c)||^2 / (C H W), averaged over the batch.

    ``target`` may have batch size 1 (one content image for a batch) or the same batch size.
    """
    return F.mse_loss(features.float(), target.float().expand_as(features))


def style_loss(features: dict[str, Tensor], target_grams: dict[str, Tensor],
               weights: dict[str, float] | None = None) -> Tensor:
    """Style reconstruction loss: sum over layers j of w_j ||G_j(y) - G_j(y_s)||_F^2, batch-averaged.

    ``features``: {layer: (B, C, H, W)} of the images being scored; ``target_grams``: {layer: (1 or B,
    C, C)} of the style image (computed once, ``gram_matrix``). ``weights`` default to 1 per layer, as
    in the paper. Gram matrices compare positions-free statistics, so the style image and the images
    scored may have different sizes.
    """
    missing = [k for k in target_grams if k not in features]
    if missing:
        raise ValueError(f"No features for the style layers {missing}; got layers {list(features)}.")
    total = features[next(iter(target_grams))].new_zeros((), dtype=torch.float32)
    for layer, target in target_grams.items():
        gram = gram_matrix(features[layer])  # (B, C, C)
        diff = gram - target.float().expand_as(gram)
        total = total + (1.0 if weights is None else weights[layer]) * diff.pow(2).sum((1, 2)).mean()
    return total


def pixel_loss(images: Tensor, target: Tensor) -> Tensor:
    """||y - y_hat||^2 / (C H W), batch-averaged: the per-pixel loss perceptual losses are compared with."""
    return F.mse_loss(images.float(), target.float())


def tv_loss(images: Tensor) -> Tensor:
    """Total-variation regulariser: mean squared difference of horizontal neighbours plus that of
    vertical neighbours (the beta = 2 form, as in the authors' code; Mahendran & Vedaldi 2015).

    Averaged rather than summed, so its weight does not depend on the image size. It penalises
    pixel-to-pixel wiggle, the high-frequency artefacts an image optimised against a loss network
    easily picks up.
    """
    dx = images[..., :, 1:] - images[..., :, :-1]
    dy = images[..., 1:, :] - images[..., :-1, :]
    return dx.float().pow(2).mean() + dy.float().pow(2).mean()


# =================================================================================================
# Siamese / TraVeL losses (Pasini 2019, after TraVeLGAN: Amodio & Krishnaswamy 2019; MelGAN-VC)
# Functions of a Siamese discriminator's output vectors (B, LENVEC): no logits, no probabilities.
# D keeps real paintings near the origin and pushes translations beyond a margin (vector *length*);
# the TraVeL terms ask that the vector between two inputs and the vector between their translations
# point the same way (vector *angle*), which keeps what distinguishes the inputs without a pixel loss.
# =================================================================================================
def squared_norm_loss(vectors: Tensor) -> Tensor:
    """mean_i ||v_i||^2: D's LossD1 on real paintings (keep them at the origin), and G's LossG1 on
    translations (pull them in)."""
    return vectors.float().pow(2).sum(1).mean()


def margin_loss(vectors: Tensor, margin: float) -> Tensor:
    """mean_i max(0, margin - ||v_i||)^2: D's LossD2, translations pushed at least ``margin`` away.

    Also the pair margin of TraVeLGAN/MelGAN-VC (borrowed) when given travel vectors: D must keep
    distinct inputs at least ``margin`` apart, so it cannot collapse every input to one point.
    """
    return F.relu(margin - vectors.float().norm(dim=1)).pow(2).mean()


def travel_vectors(vectors: Tensor) -> Tensor:
    """All in-batch transformation vectors v_i - v_j, i < j: (B, L) -> (B (B - 1) / 2, L)."""
    if vectors.shape[0] < 2:
        raise ValueError(f"TraVeL losses need at least 2 vectors in the batch (pairs), got {vectors.shape[0]}.")
    n = vectors.shape[0]
    i, j = torch.triu_indices(n, n, offset=1, device=vectors.device)
    # a +1 / -1 matrix times the vectors, not vectors[i] - vectors[j]: the same values (one +1 and one -1
    # a row), and the backward pass is a product instead of a scatter, which is slow on a CPU
    pairs = torch.zeros(i.shape[0], n, dtype=vectors.dtype, device=vectors.device)
    rows = torch.arange(i.shape[0], device=vectors.device)
    pairs[rows, i], pairs[rows, j] = 1.0, -1.0
    return pairs @ vectors


def travel_cosine_loss(v_a: Tensor, v_ab: Tensor) -> Tensor:
    """LossD3 / LossG2: mean over pairs of 1 - cos(D(A_i) - D(A_j), D(AB_i) - D(AB_j)).

    0 when every pair's translation moves in the same direction as the pair itself, 2 when opposite.
    """
    t_a, t_ab = travel_vectors(v_a.float()), travel_vectors(v_ab.float())
    return (1.0 - F.cosine_similarity(t_a, t_ab, dim=1, eps=1e-8)).mean()


def travel_mse_loss(v_a: Tensor, v_ab: Tensor) -> Tensor:
    """The squared-distance term beside the cosine (borrowed from TraVeLGAN and MelGAN-VC):
    mean over pairs and components of ((D(A_i) - D(A_j)) - (D(AB_i) - D(AB_j)))^2."""
    return (travel_vectors(v_a.float()) - travel_vectors(v_ab.float())).pow(2).mean()


def travel_pair_margin_loss(v_a: Tensor, margin: float) -> Tensor:
    """mean over pairs max(0, margin - ||D(A_i) - D(A_j)||)^2 (borrowed from MelGAN-VC's Siamese
    loss; TraVeLGAN's uses the squared distance and margin 10): the anti-collapse term for D."""
    return margin_loss(travel_vectors(v_a), margin)
