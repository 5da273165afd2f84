"""Each loss against a value computed by hand."""
import math

import pytest
import torch

from course_lib import losses


def test_gan_d_loss_at_even_odds():
    # D(x) = D(G(z)) = 1/2: -[log 1/2 + log 1/2] = 2 log 2
    zeros = torch.zeros(5)
    assert losses.gan_d_loss(zeros, zeros).item() == pytest.approx(2 * math.log(2))


def test_gan_d_loss_matches_bce_formula():
    real, fake = torch.tensor([2.0, -1.0]), torch.tensor([0.5, -3.0])
    sig = torch.sigmoid
    expected = -(torch.log(sig(real)).mean() + torch.log(1 - sig(fake)).mean())
    assert losses.gan_d_loss(real, fake).item() == pytest.approx(expected.item(), rel=1e-6)


def test_minimax_g_loss_saturates_where_non_saturating_does_not():
    # D confidently rejects the fake: logit -5, D(G(z)) = 0.0067.
    logit = torch.tensor([-5.0], requires_grad=True)
    (g_sat,) = torch.autograd.grad(losses.gan_g_loss(logit, saturating=True), logit)
    (g_ns,) = torch.autograd.grad(losses.gan_g_loss(logit), logit)
    assert g_sat.item() == pytest.approx(-torch.sigmoid(torch.tensor(-5.0)).item(), rel=1e-5)  # -0.0067
    assert g_ns.item() == pytest.approx(-torch.sigmoid(torch.tensor(5.0)).item(), rel=1e-5)  # -0.9933
    assert abs(g_ns.item()) > 100 * abs(g_sat.item())
    assert losses.gan_g_loss(torch.tensor([0.0]), saturating=True).item() == pytest.approx(-math.log(2))


def test_wgan_losses():
    real, fake = torch.tensor([3.0, 1.0]), torch.tensor([0.0, -2.0])
    assert losses.wgan_d_loss(real, fake).item() == pytest.approx(-1.0 - 2.0)
    assert losses.wgan_g_loss(fake).item() == pytest.approx(1.0)


def test_hinge_losses():
    real, fake = torch.tensor([2.0, 0.5]), torch.tensor([-2.0, 0.0])
    # relu(1 - real) = [0, 0.5] -> 0.25; relu(1 + fake) = [0, 1] -> 0.5
    assert losses.hinge_d_loss(real, fake).item() == pytest.approx(0.75)
    assert losses.hinge_g_loss(fake).item() == pytest.approx(1.0)


def test_lsgan_losses():
    real, fake = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 2.0])
    # 0.5 * mean([0, 1]) + 0.5 * mean([0, 4]) = 0.25 + 1.0
    assert losses.lsgan_d_loss(real, fake).item() == pytest.approx(1.25)
    assert losses.lsgan_g_loss(fake).item() == pytest.approx(0.5 * (1 + 1) / 2)


def _linear_critic(w):
    return lambda x: (x.flatten(1) * w.flatten()).sum(1)


def test_gradient_penalty_of_a_linear_critic():
    # f(x) = w.x has gradient w everywhere, so the penalty is (||w|| - 1)^2 at any interpolate.
    w = torch.tensor([3.0, 4.0])  # ||w|| = 5
    real, fake = torch.randn(16, 2), torch.randn(16, 2)
    gp = losses.gradient_penalty(_linear_critic(w), real, fake)
    assert gp.item() == pytest.approx(16.0, rel=1e-5)


def test_gradient_penalty_reaches_the_critics_weights():
    # The penalty must train the critic: d/dw (||w|| - 1)^2 = 2 (||w|| - 1) w / ||w|| = 2 * 4 * (3, 4) / 5.
    lin = torch.nn.Linear(2, 1, bias=False)
    with torch.no_grad():
        lin.weight.copy_(torch.tensor([[3.0, 4.0]]))
    gp = losses.gradient_penalty(lambda x: lin(x).flatten(), torch.randn(8, 2), torch.randn(8, 2))
    assert gp.requires_grad
    gp.backward()
    assert torch.allclose(lin.weight.grad, torch.tensor([[4.8, 6.4]]), rtol=1e-5)


def test_gradient_penalty_under_loss_scaling_is_unscaled():
    scaler = torch.amp.GradScaler("cpu", init_scale=1024.0)  # enabled: the fp16 path's scale-then-unscale
    gp = losses.gradient_penalty(_linear_critic(torch.tensor([3.0, 4.0])), torch.randn(8, 2), torch.randn(8, 2),
                                 scaler=scaler)
    assert gp.item() == pytest.approx(16.0, rel=1e-5)


def test_gradient_penalty_draws_one_eps_per_sample_not_per_coordinate():
    # f = ||x||^2 / 2 in 2-D, real (2, 2), fake 0: x_hat = 2 eps (1, 1), gradient norm 2 sqrt(2) eps, so
    # E[(2 sqrt(2) eps - 1)^2] = 8/3 - 2 sqrt(2) + 1 = 0.838. One eps per coordinate would give about 0.60.
    critic = lambda x: 0.5 * (x**2).sum(1)  # noqa: E731
    real, fake = torch.full((4000, 2), 2.0), torch.zeros(4000, 2)
    gp = losses.gradient_penalty(critic, real, fake, generator=torch.Generator().manual_seed(0))
    assert gp.item() == pytest.approx(8 / 3 - 2 * math.sqrt(2) + 1, abs=0.05)


def test_gradient_penalty_is_taken_between_real_and_fake():
    # A critic whose gradient norm is |x| (f = x^2 / 2 in 1-D) tells where the penalty was taken.
    critic = lambda x: 0.5 * (x**2).sum(1)  # noqa: E731
    real, fake = torch.full((4000, 1), 2.0), torch.full((4000, 1), 0.0)
    g = torch.Generator().manual_seed(0)
    gp = losses.gradient_penalty(critic, real, fake, generator=g)
    # x_hat = 2 eps, eps ~ U(0,1): E[(2 eps - 1)^2] = 1/3. At the real samples it would be 1.
    assert gp.item() == pytest.approx(1 / 3, abs=0.03)


def test_gradient_penalty_per_pixel():
    # A 1x1 linear critic summed over pixels: the gradient at each pixel is w (norm 5 over channels).
    w = torch.tensor([0.0, 3.0, 4.0]).view(1, 3, 1, 1)
    critic = lambda x: (x * w).sum((1, 2, 3))  # noqa: E731
    real, fake = torch.randn(2, 3, 4, 4), torch.randn(2, 3, 4, 4)
    assert losses.gradient_penalty(critic, real, fake, per_pixel=True).item() == pytest.approx(16.0, rel=1e-5)
    # Over the whole sample the norm is 5 * sqrt(16 pixels) = 20: (20 - 1)^2 = 361.
    assert losses.gradient_penalty(critic, real, fake).item() == pytest.approx(361.0, rel=1e-5)


def test_gradient_penalty_with_labels_and_shape_check():
    critic = lambda x, y: (x.sum(1) * (y.float() + 1))  # noqa: E731  gradient norm sqrt(2) * (y + 1)
    real, fake, y = torch.randn(3, 2), torch.randn(3, 2), torch.tensor([0, 0, 0])
    assert losses.gradient_penalty(critic, real, fake, y).item() == pytest.approx((math.sqrt(2) - 1) ** 2, rel=1e-5)
    with pytest.raises(ValueError, match="same shape"):
        losses.gradient_penalty(critic, real, fake[:2], y)


def test_r1_penalty_of_a_linear_critic():
    w = torch.tensor([3.0, 4.0])
    assert losses.r1_penalty(_linear_critic(w), torch.randn(8, 2)).item() == pytest.approx(25.0, rel=1e-5)
