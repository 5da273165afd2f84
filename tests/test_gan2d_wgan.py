"""Lectures 02 and 05: the WGAN objectives against hand values, the critic schedule, the recipes
(one step changes the right weights), the DCGAN critic without batch norm, the 2-D plots."""
import json

import pytest
import torch
from torch import nn

from course_lib import losses, plotting, registry
from course_lib.__main__ import main
from course_lib.layers import MinibatchStd
from course_lib.models import dcgan, mlp
from course_lib.objectives import GANObjective, WGANGPObjective, WGANObjective
from course_lib.recipes import wgan
from course_lib.recipes.wgan import WGANSchedule
from course_lib.training import StepContext
from test_training import changed, make_trainer, params


class Linear2D(nn.Module):
    """C(x) = w.x + b with known weights: its input gradient is w everywhere."""

    def __init__(self, w, b=0.0):
        super().__init__()
        self.lin = nn.Linear(2, 1)
        with torch.no_grad():
            self.lin.weight.copy_(torch.tensor([w]))
            self.lin.bias.fill_(b)

    def forward(self, x):
        return self.lin(x).flatten()


class Constant(nn.Module):
    """A 'generator' that always returns the same points (ignores z)."""

    def __init__(self, points):
        super().__init__()
        self.points = points
        self.p = nn.Parameter(torch.zeros(1))

    def forward(self, z):
        return self.points[: len(z)] + 0 * self.p


def ctx(batch_size=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    return StepContext(noise=lambda n: torch.randn(n, 2, generator=g), generator=g, scaler=None, step=0,
                       batch_size=batch_size, device=torch.device("cpu"))


def test_wgan_losses_by_hand():
    C = Linear2D([1.0, 2.0], b=0.5)
    real = torch.tensor([[1.0, 1.0], [3.0, 0.0]])  # C = 3.5, 3.5 -> mean 3.5
    fake = torch.tensor([[0.0, 0.0], [-1.0, 1.0]])  # C = 0.5, 1.5 -> mean 1.0
    loss, stats = WGANObjective().d_loss(Constant(fake), C, (real,), ctx())
    assert loss.item() == pytest.approx(1.0 - 3.5)  # E[C(G(z))] - E[C(x)]
    assert stats["wasserstein"].item() == pytest.approx(2.5)  # the critic's estimate E[C(x)] - E[C(G(z))]
    g_loss, _ = WGANObjective().g_loss(Constant(fake), C, None, ctx())
    assert g_loss.item() == pytest.approx(-1.0)


def test_wgan_gp_loss_by_hand():
    # ||w|| = 5: the penalty is (5 - 1)^2 = 16 at every interpolate; lambda 10 -> 160.
    C = Linear2D([3.0, 4.0])
    real = torch.tensor([[1.0, 0.0], [0.0, 1.0]])  # C = 3, 4
    fake = torch.tensor([[0.0, 0.0], [1.0, 1.0]])  # C = 0, 7
    loss, stats = WGANGPObjective().d_loss(Constant(fake), C, (real,), ctx())
    assert stats["gp"].item() == pytest.approx(16.0, rel=1e-5)
    assert stats["wasserstein"].item() == pytest.approx(3.5 - 3.5)
    assert loss.item() == pytest.approx(0.0 + 10 * 16.0, rel=1e-5)
    # a 1-Lipschitz linear critic (||w|| = 1) pays no penalty
    _, stats = WGANGPObjective().d_loss(Constant(fake), Linear2D([0.6, 0.8]), (real,), ctx())
    assert stats["gp"].item() == pytest.approx(0.0, abs=1e-10)


def test_wgan_gp_drift_and_lazy_penalty_by_hand():
    # ProGAN's drift: 0.001 * E[C(x)^2] with real scores 3 and 4 is 0.001 * 12.5.
    C, G = Linear2D([3.0, 4.0]), Constant(torch.tensor([[0.0, 0.0], [1.0, 1.0]]))
    real = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    plain, _ = WGANGPObjective().d_loss(G, C, (real,), ctx())
    drifting, _ = WGANGPObjective(drift=0.001).d_loss(G, C, (real,), ctx())
    assert drifting.item() == pytest.approx(plain.item() + 0.0125, rel=1e-5)
    lazy = WGANGPObjective(gp_every=4)  # the penalty (16, lambda 10) on one step in 4, weighted 4 times
    for step, penalty in ((1, 0.0), (3, 0.0), (4, 4 * 160.0), (8, 4 * 160.0)):
        c = ctx()
        c.step = step
        loss, stats = lazy.d_loss(G, C, (real,), c)
        assert loss.item() == pytest.approx(penalty, rel=1e-5, abs=1e-6)  # the Wasserstein part is 0 here
        assert ("gp" in stats) == (penalty > 0)
    for bad in (dict(gp_every=0), dict(drift=-1.0), dict(gp_weight=-1.0)):
        with pytest.raises(ValueError, match=next(iter(bad))):
            WGANGPObjective(**bad)


def test_gan_r1_penalty_by_hand_and_lazily():
    # D(x) = w.x with ||w||^2 = 25: R1 = 25 at every real point, so gamma 0.2 adds 0.1 * 25 = 2.5.
    D, G = Linear2D([3.0, 4.0]), Constant(torch.tensor([[0.0, 0.0], [1.0, 1.0]]))
    real = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    plain, _ = GANObjective().d_loss(G, D, (real,), ctx())
    loss, stats = GANObjective(r1_gamma=0.2).d_loss(G, D, (real,), ctx())
    assert stats["r1"].item() == pytest.approx(25.0, rel=1e-5)
    assert loss.item() == pytest.approx(plain.item() + 2.5, rel=1e-5)
    assert stats["d_loss"].item() == pytest.approx(plain.item())  # the logged d_loss is the GAN part alone
    # the penalty reaches D's weights: d/dw of 0.1 * ||w||^2 is 0.2 * w = (0.6, 0.8)
    (g_plain,) = torch.autograd.grad(plain, D.lin.weight)
    (g_r1,) = torch.autograd.grad(loss, D.lin.weight)
    assert torch.allclose(g_r1 - g_plain, torch.tensor([[0.6, 0.8]]), atol=1e-5)
    lazy = GANObjective(r1_gamma=0.2, r1_every=4)
    for step, extra in ((1, 0.0), (3, 0.0), (4, 4 * 2.5), (8, 4 * 2.5)):  # one step in 4, weighted 4 times
        c = ctx()
        c.step = step
        loss, stats = lazy.d_loss(G, D, (real,), c)
        assert loss.item() == pytest.approx(plain.item() + extra, rel=1e-5)
        assert ("r1" in stats) == (extra > 0)
    with pytest.raises(ValueError, match="r1_every"):
        GANObjective(r1_gamma=1.0, r1_every=0)
    with pytest.raises(ValueError, match="r1_gamma"):
        GANObjective(r1_gamma=-1.0)


def test_weight_clipping_clamps_every_critic_weight():
    D = mlp.Discriminator(mlp.MLPConfig(hidden=8))
    with torch.no_grad():
        D.net[0].weight.fill_(0.5)
        D.net[0].bias.fill_(-0.003)
    WGANObjective(clip=0.01).after_d_step(D)
    assert D.net[0].weight.eq(0.01).all() and D.net[0].bias.eq(-0.003).all()
    assert all(p.abs().max() <= 0.01 for p in D.parameters())


def test_wgan_schedule_is_the_papers():
    s = WGANSchedule()
    assert [s(i) for i in (0, 1, 24)] == [100, 100, 100]
    assert [s(i) for i in (25, 26, 499, 501, 999)] == [5] * 5
    assert s(500) == 100 and s(1000) == 100


def test_trainer_follows_the_critic_schedule_and_resumes_exactly(tmp_path):
    schedule = lambda step: 3 if step % 4 == 0 else 1  # noqa: E731
    tr = make_trainer(critic_schedule=schedule)
    calls = []
    orig = tr.d_step
    tr.d_step = lambda: calls.append(tr.step) or orig()
    tr.fit(5, progress=False)
    assert calls == [0, 0, 0, 1, 2, 3, 4, 4, 4]  # 3 D steps before G steps 1 and 5, else 1
    assert tr.critic_steps(8) == 3 and make_trainer(n_critic=2).critic_steps(8) == 2

    straight = make_trainer(critic_schedule=schedule)
    straight.fit(7, progress=False)
    first = make_trainer(critic_schedule=schedule)
    first.fit(3, progress=False)
    first.save(tmp_path / "ckpt.pt")
    resumed = make_trainer(seed=9, critic_schedule=schedule)
    resumed.load(tmp_path / "ckpt.pt")
    resumed.fit(7, progress=False)
    for a, b in zip(straight.D.state_dict().values(), resumed.D.state_dict().values()):
        assert torch.equal(a, b)
    with pytest.raises(ValueError, match="at least 1"):
        make_trainer(critic_schedule=lambda s: 0).fit(1, progress=False)


@pytest.mark.parametrize("model, data", [("gan", "ring8"), ("gan", "grid25"), ("wgan", "ring8"),
                                         ("wgan-gp", "grid25"), ("wgan", "anime"), ("wgan-gp", "anime")])
def test_one_step_changes_the_right_weights(model, data):
    exp = registry.experiment(model, data, "smoke", seed=0, device="cpu")
    tr = exp.trainer
    after = getattr(tr.objective, "after_d_step", None)
    if after is not None:  # clip first: clipping alone would change D and hide a step that did nothing
        after(tr.D)
    g0, d0 = params(tr.G), params(tr.D)
    tr.d_step()
    assert not any(changed(g0, tr.G)), "a D step must leave G alone"
    assert any(changed(d0, tr.D))
    if model == "wgan":
        assert all(p.abs().max() <= 0.01 + 1e-7 for p in tr.D.parameters()), "weights clipped after the D step"
    d1 = params(tr.D)
    tr.g_step()
    assert all(changed(g0, tr.G)) and not any(changed(d1, tr.D))


def test_toy_wgan_gp_decays_its_learning_rate_linearly():
    exp = registry.experiment("wgan-gp", "ring8", "smoke", seed=0, device="cpu")
    base = exp.trainer.opt_G.param_groups[0]["lr"]
    exp.trainer.fit(4, progress=False)
    for opt in (exp.trainer.opt_G, exp.trainer.opt_D):
        assert opt.param_groups[0]["lr"] == pytest.approx(base * (1 - 4 / exp.steps))
    assert exp.settings["lr_decay"] and not registry.experiment("wgan", "ring8", "smoke").settings["lr_decay"]


def test_wgan_gp_critic_on_faces_has_no_batch_norm_and_wgan_uses_rmsprop():
    gp = registry.experiment("wgan-gp", "anime", "smoke", seed=0, device="cpu")
    assert not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in gp.trainer.D.modules())
    # smoke and cpu train it as ProGAN does; gpu keeps the paper's optimiser and 5 critic steps
    assert isinstance(gp.trainer.opt_D, torch.optim.Adam) and gp.trainer.opt_D.defaults["betas"] == (0.0, 0.99)
    assert any(isinstance(m, MinibatchStd) for m in gp.trainer.D.modules()) and gp.trainer.n_critic == 1
    paper = wgan.face_settings("gpu")
    assert (paper["n_critic"], paper["lr"], paper["betas"], paper["gp_every"], paper["drift"]) == (5, 1e-4, (0.0, 0.9), 1, 0.0)
    assert wgan.face_settings("cpu", clip=True)["n_critic"] == 5
    clip = registry.experiment("wgan", "ring8", "smoke", seed=0, device="cpu")
    assert isinstance(clip.trainer.opt_D, torch.optim.RMSprop) and clip.trainer.opt_D.defaults["lr"] == 5e-5
    assert clip.trainer.critic_schedule(0) > clip.trainer.critic_schedule(clip.trainer.critic_schedule.warmup) == 5
    with pytest.raises(ValueError, match="not 'mnist'"):
        registry.experiment("wgan-gp", "mnist", "smoke")


def test_dcgan_d_norm_option_keeps_the_default_network():
    default = dcgan.Discriminator(dcgan.DCGANConfig())
    assert sum(p.numel() for p in default.parameters()) == 2_765_633  # the paper's 64x64 D, as before the option
    plain = dcgan.Discriminator(dcgan.DCGANConfig(d_norm="none"))
    assert not any(isinstance(m, nn.BatchNorm2d) for m in plain.modules())
    assert all(m.bias is not None for m in plain.modules() if isinstance(m, nn.Conv2d))
    x = torch.randn(3, 3, 64, 64)
    assert plain(x).shape == (3,)
    # without batch norm each sample's score depends on that sample alone
    assert torch.allclose(plain(x)[:1], plain(x[:1]), atol=1e-5)
    with pytest.raises(ValueError, match="d_norm"):
        dcgan.DCGANConfig(d_norm="layer")


def test_command_line_writes_mode_coverage_and_samples_points(tmp_path):
    out = tmp_path / "run"
    assert main(["train", "wgan-gp", "--data", "ring8", "--budget", "smoke", "--steps", "4", "--out", str(out), "--quiet"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    cov = metrics["coverage"]
    assert cov["samples"] == 2500 and cov["n_modes"] == 8 and 0 <= cov["high_quality"] <= 1
    assert [r["step"] for r in metrics["coverage_over_training"]] == [1, 2, 3, 4]
    assert metrics["settings"]["objective"]["gp_weight"] == 0.1  # the authors' toy script
    assert main(["sample", str(out), "--n", "5", "--out", str(tmp_path / "s.pt")]) == 0
    assert torch.load(tmp_path / "s.pt").shape == (5, 2)


def test_toy_plots_draw_the_surface_and_render_frames():
    import matplotlib

    matplotlib.use("Agg")
    C = Linear2D([1.0, 0.0])
    values, extent = plotting.score_surface(C, (-1.0, 1.0, -2.0, 2.0), resolution=5)
    assert values.shape == (5, 5)
    assert values[0, 0] == pytest.approx(torch.sigmoid(torch.tensor(-1.0)).item(), rel=1e-5)  # x = -1
    assert values[0, -1] == pytest.approx(torch.sigmoid(torch.tensor(1.0)).item(), rel=1e-5)  # x = +1
    assert (values[:, 0] == values[0, 0]).all()  # rows are y: C does not depend on y
    real = torch.randn(50, 2)
    snaps = {1: torch.randn(50, 2), 5: torch.randn(50, 2)}
    cov = {1: {"modes": 2, "n_modes": 8, "high_quality": 0.25}}
    fig = plotting.toy_timeline(snaps, real, surfaces={1: (values, extent)}, coverage=cov)
    assert len(fig.axes) == 2 and "2/8 modes, 25% HQ" in fig.axes[0].get_title()
    frame = plotting.figure_to_image(fig, dpi=30)
    assert frame.dtype == torch.uint8 and frame.shape[:2] == (1, 3) and frame.shape[2] > 10
    axes = plotting.coverage_curve([{"step": 1, "modes": 3, "high_quality": 0.5}], 8, label="run")
    assert axes[1].lines[0].get_ydata()[0] == 50.0


def test_wgan_gp_resumes_exactly_penalty_draws_included(tmp_path):
    straight = registry.experiment("wgan-gp", "ring8", "smoke", seed=0, device="cpu").trainer
    straight.fit(4, progress=False)
    first = registry.experiment("wgan-gp", "ring8", "smoke", seed=0, device="cpu").trainer
    first.fit(2, progress=False)
    first.save(tmp_path / "ckpt.pt")
    torch.manual_seed(123)  # the global RNG must play no part: eps comes from the run's own generator
    resumed = registry.experiment("wgan-gp", "ring8", "smoke", seed=0, device="cpu").trainer
    resumed.load(tmp_path / "ckpt.pt")
    resumed.fit(4, progress=False)
    for a, b in ((straight.D, resumed.D), (straight.G, resumed.G)):
        assert all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values()))
    assert [h.get("gp") for h in straight.history] == [h.get("gp") for h in resumed.history]
