"""The alternating loop: the right weights move, resume is exact, NaN stops cleanly."""
import pytest
import torch

from course_lib.models import dcgan
from course_lib.objectives import GANObjective
from course_lib.storage import safe_load
from course_lib.training import (MAX_SKIPPED_FP16_STEPS, TensorBatches, Trainer, TrainingDiverged, amp_dtype,
                                 ema_update, landmark_steps, linear_lr_decay, snapshot_callback, to_uint8)


def make_trainer(seed=0, n=64, **kwargs):
    torch.manual_seed(seed)
    cfg = dcgan.DCGANConfig(image_size=16, g_width=8, d_width=8, z_dim=16)
    G, D = dcgan.build(cfg)
    opt_G, opt_D = dcgan.make_optimizers(G, D, cfg)
    data = torch.rand(n, 3, 16, 16, generator=torch.Generator().manual_seed(1)) * 2 - 1
    kwargs.setdefault("log_every", 1)
    return Trainer(G, D, GANObjective(), opt_G, opt_D, TensorBatches(data, batch_size=8), z_dim=16,
                   device="cpu", seed=seed, **kwargs)


def params(module):
    return [p.detach().clone() for p in module.parameters()]


def changed(before, module):
    return [not torch.equal(a, b) for a, b in zip(before, module.parameters())]


def test_d_step_changes_only_d():
    tr = make_trainer()
    g0, d0 = params(tr.G), params(tr.D)
    tr.d_step()
    assert not any(changed(g0, tr.G)), "a D step must leave G's weights alone"
    assert all(changed(d0, tr.D)), "every D parameter should move in a D step"
    assert all(p.grad is None for p in tr.G.parameters()), "G is fixed: no gradient is even computed"


class _SpyObjective(GANObjective):
    """GANObjective that records, inside each step, which networks are trainable (and the dtype D sees)."""

    def __init__(self):
        super().__init__()
        self.seen = {}

    def d_loss(self, G, D, batch, ctx):
        self.seen["d"] = ([p.requires_grad for p in G.parameters()], [p.requires_grad for p in D.parameters()])
        self.seen["d_dtype"] = D(batch[0]).dtype
        return super().d_loss(G, D, batch, ctx)

    def g_loss(self, G, D, batch, ctx):
        self.seen["g"] = ([p.requires_grad for p in G.parameters()], [p.requires_grad for p in D.parameters()])
        return super().g_loss(G, D, batch, ctx)


def test_each_step_freezes_the_other_network():
    tr = make_trainer()
    tr.objective = _SpyObjective()
    tr.train_step()
    g_flags, d_flags = tr.objective.seen["d"]
    assert not any(g_flags) and all(d_flags), "D step: G fixed, D trainable"
    g_flags, d_flags = tr.objective.seen["g"]
    assert all(g_flags) and not any(d_flags), "G step: D fixed, G trainable"


def test_g_step_changes_only_g():
    tr = make_trainer()
    g0, d0 = params(tr.G), params(tr.D)
    tr.g_step()
    assert not any(changed(d0, tr.D)), "a G step must leave D's weights alone"
    assert all(changed(g0, tr.G))
    assert all(p.grad is None for p in tr.D.parameters())
    assert all(p.requires_grad for p in tr.D.parameters()), "D is unfrozen again after the G step"


def test_n_critic_and_logging():
    tr = make_trainer(n_critic=3)
    calls = []
    orig = tr.d_step
    tr.d_step = lambda: calls.append(1) or orig()
    tr.fit(2, progress=False)
    assert len(calls) == 6 and tr.step == 2
    assert {"d_loss", "g_loss", "D(x)", "D(G(z))"} <= set(tr.history[-1])
    sparse = make_trainer(log_every=2)
    sparse.fit(5, progress=False)
    assert [h["step"] for h in sparse.history] == [1, 2, 4], "the first step, then every log_every-th"


def test_resume_gives_the_same_parameters_as_an_uninterrupted_run(tmp_path):
    straight = make_trainer(ema_decay=0.9)
    straight.fit(14, progress=False)

    first = make_trainer(ema_decay=0.9)
    first.fit(5, progress=False)  # 8 batches of 8 per epoch: the resume point is mid-epoch
    first.save(tmp_path / "ckpt.pt")
    resumed = make_trainer(seed=123, ema_decay=0.9)  # other init and seed: all must come from the file
    resumed.load(tmp_path / "ckpt.pt")
    resumed.fit(14, progress=False)

    for net in ("G", "D", "G_ema"):
        for a, b in zip(getattr(straight, net).state_dict().values(), getattr(resumed, net).state_dict().values()):
            assert torch.equal(a, b), net
    assert [h["d_loss"] for h in straight.history] == [h["d_loss"] for h in resumed.history]


def test_linear_lr_decay_holds_then_falls_to_zero_and_resumes_on_the_line(tmp_path):
    tr = make_trainer()
    tr.callbacks.append(linear_lr_decay([tr.opt_G, tr.opt_D], start=4, end=8))
    rates = []
    tr.callbacks.append(lambda t: rates.append(t.opt_G.param_groups[0]["lr"]))
    tr.fit(8, progress=False)
    assert rates == pytest.approx([2e-4] * 4 + [1.5e-4, 1e-4, 0.5e-4, 0.0])
    assert tr.opt_D.param_groups[0]["lr"] == 0.0

    first = make_trainer()
    first.callbacks.append(linear_lr_decay([first.opt_G, first.opt_D], start=4, end=8))
    first.fit(6, progress=False)
    first.save(tmp_path / "ckpt.pt")
    resumed = make_trainer()
    resumed.callbacks.append(linear_lr_decay([resumed.opt_G, resumed.opt_D], start=4, end=8))  # before load
    resumed.load(tmp_path / "ckpt.pt")
    assert resumed.opt_G.param_groups[0]["lr"] == pytest.approx(1e-4)
    resumed.fit(8, progress=False)
    for a, b in zip(tr.G.state_dict().values(), resumed.G.state_dict().values()):
        assert torch.equal(a, b)
    with pytest.raises(ValueError, match="start < end"):
        linear_lr_decay([tr.opt_G], start=5, end=5)


def test_nan_loss_stops_with_a_message_and_keeps_the_checkpoint(tmp_path):
    ckpt = tmp_path / "ckpt.pt"
    tr = make_trainer(checkpoint_path=ckpt, checkpoint_every=2)
    tr.fit(2, progress=False)
    good = ckpt.read_bytes()
    with torch.no_grad():
        next(tr.D.parameters()).fill_(float("nan"))
    with pytest.raises(TrainingDiverged, match=r"d_loss became nan at step 2.*ckpt\.pt"):
        tr.fit(4, progress=False)
    assert ckpt.read_bytes() == good


def test_snapshots_at_landmark_steps():
    tr = make_trainer()
    z = torch.randn(4, 16)
    tr.callbacks.append(snapshot_callback(z, [1, 3]))
    tr.fit(3, progress=False)
    assert sorted(tr.snapshots) == [1, 3]
    assert tr.snapshots[3].dtype == torch.uint8 and tr.snapshots[3].shape == (4, 3, 16, 16)
    assert torch.equal(tr.snapshots[3], to_uint8(tr.sample(z))), "a snapshot is the sampler's images at that step"
    assert not torch.equal(tr.snapshots[1], tr.snapshots[3])
    assert to_uint8(torch.tensor([-1.0, 0.0, 1.0, 2.0, -0.5])).tolist() == [0, 128, 255, 255, 64]


def test_landmark_steps_scale_the_lecture_schedule():
    assert landmark_steps(50_000) == [100, 1000, 2000, 5000, 20000, 50000]
    assert landmark_steps(5000) == [10, 100, 200, 500, 2000, 5000]
    assert landmark_steps(12)[-1] == 12 and all(s >= 1 for s in landmark_steps(12))


def test_ema_update_math():
    a, b = torch.nn.Linear(2, 1), torch.nn.Linear(2, 1)
    w0, b0 = a.weight.detach().clone(), a.bias.detach().clone()
    ema_update(a, b, decay=0.75)
    assert torch.allclose(a.weight, 0.75 * w0 + 0.25 * b.weight)
    assert torch.allclose(a.bias, 0.75 * b0 + 0.25 * b.bias)
    ema_bn, bn = torch.nn.BatchNorm1d(3), torch.nn.BatchNorm1d(3)
    bn.running_mean.fill_(5.0)
    ema_update(ema_bn, bn, decay=0.75)
    assert torch.equal(ema_bn.running_mean, torch.full((3,), 5.0))  # buffers are copied, not averaged


def test_sampling_refreshes_the_ema_batchnorm_without_touching_the_run():
    tr = make_trainer(ema_decay=0.9)
    tr.fit(3, progress=False)
    z = torch.randn(6, 16, generator=torch.Generator().manual_seed(5))
    first = tr.sample(z)
    state = tr.generator.get_state()
    bns = [m for m in tr.G_ema.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    for m in bns:  # wreck the statistics: a refresh must measure them again
        m.running_mean.fill_(1e3)
        m.running_var.fill_(1e-6)
    tr._ema_bn_step = None
    assert torch.equal(tr.sample(z), first)
    assert torch.equal(tr.generator.get_state(), state), "sampling must not move the run's own draws"
    assert all(m.momentum == 0.1 for m in bns), "the refresh restores each layer's momentum"


def test_batches_cover_an_epoch_and_reject_tiny_sets():
    data = torch.arange(10).float().view(10, 1)
    batches = TensorBatches(data, batch_size=5)
    g = torch.Generator().manual_seed(0)
    seen = torch.cat([batches.next(g)[0] for _ in range(2)]).flatten()
    assert sorted(seen.tolist()) == list(range(10))
    with pytest.raises(ValueError, match="fewer than one batch"):
        TensorBatches(data, batch_size=11)


def test_amp_path_runs_on_cpu_with_bf16():
    tr = make_trainer(amp=True)
    tr.objective = _SpyObjective()
    tr.fit(2, progress=False)
    assert tr.objective.seen["d_dtype"] == torch.bfloat16, "D computes under bf16 autocast"
    assert not tr.scaler.is_enabled(), "bf16 needs no loss scaling"
    assert all(p.dtype == torch.float32 and torch.isfinite(p).all() for p in tr.G.parameters())


def test_load_if_finished_reuses_only_this_very_run_and_keeps_its_time(tmp_path, capsys):
    path = tmp_path / "ckpt.pt"
    tr = make_trainer(config={"budget": "smoke", "width": 8})
    assert not tr.load_if_finished(path, 3)  # nothing there yet
    tr.fit(3, progress=False)
    assert tr.train_seconds > 0
    tr.save(path)
    same = make_trainer(config={"budget": "smoke", "width": 8})
    assert same.load_if_finished(path, 3) and same.step == 3
    assert same.train_seconds == pytest.approx(tr.train_seconds)
    assert all(torch.equal(a, b) for a, b in zip(same.G.parameters(), tr.G.parameters()))
    assert not same.load_if_finished(path, 5)  # this run, but not finished: loaded, to go on from step 3
    other = make_trainer(config={"budget": "cpu", "width": 8})
    assert not other.load_if_finished(path, 3) and other.step == 0
    assert "another run" in capsys.readouterr().out


def test_batchnorm_refresh_draws_fresh_noise_for_every_batch():
    tr = make_trainer(ema_decay=0.9)
    noise = tr.refresh_noise()
    first, second = noise(4), noise(4)
    assert not torch.equal(first, second)  # 16 refresh batches must be 16 different batches
    assert torch.equal(tr.refresh_noise()(4), first)  # the same step refreshes the same way


def test_seconds_trained_count_an_interrupted_fit(tmp_path):
    ckpt = tmp_path / "ckpt.pt"
    tr = make_trainer(checkpoint_path=ckpt, checkpoint_every=2)

    def interrupt(t):
        if t.step == 3:
            raise KeyboardInterrupt

    tr.callbacks.append(interrupt)
    with pytest.raises(KeyboardInterrupt):
        tr.fit(10, progress=False)
    assert tr.train_seconds > 0
    assert safe_load(ckpt)["train_seconds"] > 0  # written at step 2, while fit() was under way


def test_amp_dtype_uses_bf16_only_on_gpus_that_compute_it(monkeypatch):
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: (7, 5))  # a T4
    assert amp_dtype(torch.device("cuda")) == torch.float16
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: (8, 0))  # an A100
    assert amp_dtype(torch.device("cuda")) == torch.bfloat16
    assert amp_dtype(torch.device("cpu")) is None


def test_fp16_loss_scaling_skips_overflows_but_stops_a_run_that_stays_non_finite():
    tr = make_trainer()
    tr.scaler = torch.amp.GradScaler("cpu", enabled=True)  # as on a GPU without bf16
    before = params(tr.D)
    for _ in range(MAX_SKIPPED_FP16_STEPS):
        tr._update(next(tr.D.parameters()).sum() * float("inf"), tr.opt_D, "d_loss")
    assert not any(changed(before, tr.D))  # every overflowing step skipped, no exception
    with pytest.raises(TrainingDiverged, match="d_loss became"):
        tr._update(next(tr.D.parameters()).sum() * float("inf"), tr.opt_D, "d_loss")
    plain = make_trainer()  # without loss scaling the first non-finite loss stops the run
    with pytest.raises(TrainingDiverged):
        plain._update(next(plain.D.parameters()).sum() * float("nan"), plain.opt_D, "d_loss")


def test_a_checkpoint_without_loss_scaling_loads_into_an_fp16_trainer(tmp_path):
    path = tmp_path / "ckpt.pt"
    tr = make_trainer()
    tr.fit(1, progress=False)
    tr.save(path)
    fp16 = make_trainer()
    fp16.scaler = torch.amp.GradScaler("cpu", enabled=True)
    fp16.load(path)
    assert fp16.step == 1


def test_resume_refuses_another_run_and_a_changed_decay_length(tmp_path):
    decaying = {"model": "dcgan", "steps": 4, "lr_decay_from": 0.5}
    path = tmp_path / "ckpt.pt"
    tr = make_trainer(config=decaying)
    tr.fit(2, progress=False)
    tr.save(path)
    make_trainer(config=decaying).check_resumable(path)  # the same run: fine
    with pytest.raises(ValueError, match="another run .*model"):
        make_trainer(config={**decaying, "model": "wgan-gp"}).check_resumable(path)
    with pytest.raises(ValueError, match="--steps 4"):
        make_trainer(config={**decaying, "steps": 8}).check_resumable(path)
    constant = {"model": "dcgan", "steps": 4, "lr_decay_from": None}
    make_trainer(config=constant).save(path)
    make_trainer(config={**constant, "steps": 8}).check_resumable(path)  # a constant rate may run longer
