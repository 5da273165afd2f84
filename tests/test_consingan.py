"""ConSinGAN: the pyramid, concurrent training (who learns at which rate), the residual stages,
the per-pixel penalty, sampling and checkpoints, the tasks, the metrics, the widget, bad inputs."""
from dataclasses import replace

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from course_lib import losses
from course_lib.__main__ import main
from course_lib.data.folders import ImageDataError
from course_lib.metrics import single_image
from course_lib.models.consingan import (ConSinGANConfig, GrowingGenerator, PatchCritic, critic_field,
                                         make_optimizers, pyramid_sizes, stage_param_groups)
from course_lib.recipes import consingan as recipe
from course_lib.storage import safe_load
from course_lib.training import TrainingDiverged

TINY = dict(channels=8, n_stages=5, min_size=12, max_size=24, iters_per_stage=2)


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny nets run faster on one thread, and do not stall when other jobs share the cores."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def tiny_image(h=16, w=24, seed=0):
    g = torch.Generator().manual_seed(seed)
    ramp = torch.linspace(-0.8, 0.8, w).view(1, 1, w).expand(3, h, w)
    return (ramp + 0.2 * torch.randn(3, h, w, generator=g)).clamp(-1, 1)


def trainer(task="generation", seed=0, **overrides):
    cfg = ConSinGANConfig(**{**TINY, **overrides})
    return recipe.ConSinGANTrainer(tiny_image(), cfg, seed=seed, device="cpu", task=task)


def snapshot(module):
    return {n: p.detach().clone() for n, p in module.named_parameters()}


def moved(before, module, prefix):
    return any(not torch.equal(before[n], p) for n, p in module.named_parameters() if n.startswith(prefix))


# --- the pyramid ---------------------------------------------------------------------------------
def test_packed_rescaling_of_the_paper_example():
    sizes = pyramid_sizes(188, 250, n_stages=6, min_size=25, max_size=250)
    assert [w for _, w in sizes] == [33, 42, 55, 83, 167, 250]
    assert sizes[0][0] == 25 and sizes[-1] == (188, 250)


def test_geometric_rescaling_and_shrinking_to_max_size():
    sizes = pyramid_sizes(188, 250, n_stages=6, min_size=25, max_size=250, packed=False)
    ratios = [sizes[i + 1][1] / sizes[i][1] for i in range(5)]
    assert max(ratios) - min(ratios) < 0.06  # one factor, about 1.5, between all stages
    assert pyramid_sizes(427, 640, 5, 25, 80)[-1] == (53, 80)  # shrunk so the longer side is 80


def test_too_small_image_is_a_clear_error():
    with pytest.raises(ValueError, match="shorter side"):
        pyramid_sizes(20, 30, 5, 25, 80)
    with pytest.raises(ValueError, match="shorter side"):
        recipe.ConSinGANTrainer(torch.zeros(3, 10, 40), ConSinGANConfig(**TINY), device="cpu")
    with pytest.raises(ValueError, match="min_size"):
        ConSinGANConfig(min_size=critic_field(ConSinGANConfig()))  # the critic's patch would not fit


# --- who trains, and how fast ------------------------------------------------------------------
def test_lr_per_stage_and_frozen_blocks():
    cfg = ConSinGANConfig(channels=4)
    G = GrowingGenerator(cfg)
    for _ in range(4):
        G.grow()  # 5 stages
    lrs = {g["name"]: g["lr"] for g in stage_param_groups(G, cfg)}
    assert lrs == pytest.approx({"stage 4": 5e-4, "stage 3": 5e-5, "stage 2": 5e-6, "tail": 5e-4})
    assert not any(p.requires_grad for b in G.body[:2] for p in b.parameters())
    assert not any(p.requires_grad for p in G.head.parameters())
    G2 = GrowingGenerator(replace(cfg, lr_scale=0.5))
    G2.grow()  # 2 stages: the head trains with stage 0
    lrs2 = {g["name"]: g["lr"] for g in stage_param_groups(G2, replace(cfg, lr_scale=0.5))}
    assert lrs2 == pytest.approx({"stage 1": 5e-4, "stage 0": 2.5e-4, "head": 2.5e-4, "tail": 5e-4})


def test_lr_decays_at_80_percent_of_a_stage():
    cfg = ConSinGANConfig(channels=4, iters_per_stage=10)
    opt_G, opt_D, sched_G, sched_D = make_optimizers(GrowingGenerator(cfg), PatchCritic(cfg), cfg)
    for _ in range(8):
        opt_G.step(), opt_D.step(), sched_G.step(), sched_D.step()
    assert opt_D.param_groups[0]["lr"] == pytest.approx(5e-5)
    assert opt_G.param_groups[0]["lr"] == pytest.approx(5e-5)


@pytest.mark.parametrize("stages, trained, head", [(1, [0], True), (3, [0, 1, 2], True), (5, [2, 3, 4], False)])
def test_one_step_moves_only_the_last_three_blocks_the_tail_and_the_early_head(stages, trained, head):
    tr = trainer(n_stages=5)
    tr.fit(progress=False, until=stages - 1)
    tr.start_stage()
    assert tr.G.n_stages == stages
    before, d_before = snapshot(tr.G), snapshot(tr.D)
    tr.step()
    assert [i for i in range(stages) if moved(before, tr.G, f"body.{i}.")] == trained
    assert moved(before, tr.G, "tail.")
    assert moved(before, tr.G, "head.") == head
    assert moved(d_before, tr.D, "")


def test_gradients_reach_only_the_trained_parts():
    tr = trainer(n_stages=5)
    tr.fit(progress=False, until=4)
    tr.start_stage()
    tr.G.zero_grad(set_to_none=True)
    sizes = tr.sizes
    tr.G(tr.fixed_noise, sizes, tr.noise_amp).square().mean().backward()
    has_grad = lambda m: any(p.grad is not None for p in m.parameters())  # noqa: E731
    assert [has_grad(b) for b in tr.G.body] == [False, False, True, True, True]
    assert has_grad(tr.G.tail) and not has_grad(tr.G.head)


# --- the generator's stages -------------------------------------------------------------------
def test_a_new_stage_copies_the_previous_block():
    G = GrowingGenerator(ConSinGANConfig(channels=4))
    G.grow()
    for p, q in zip(G.body[0].parameters(), G.body[1].parameters()):
        assert torch.equal(p, q) and p.data_ptr() != q.data_ptr()


def test_residual_bilinear_upsampling_between_stages():
    cfg = ConSinGANConfig(channels=4)
    G = GrowingGenerator(cfg)
    G.grow()
    sizes = [(12, 15), (17, 21)]
    noise = G.draw_noise(sizes, 2, torch.Generator().manual_seed(0))
    assert [tuple(n.shape) for n in noise] == [(2, 3, 12, 15), (2, 4, 23, 27)]  # later noise 6 px larger
    amps = [1.0, 0.3]
    with torch.no_grad():
        f0, f1 = G.features(noise, sizes, amps)
        assert f0.shape == (2, 4, 12, 15) and f1.shape == (2, 4, 17, 21)
        up = F.interpolate(f0, size=(17, 21), mode="bilinear", align_corners=False)
        up_big = F.interpolate(f0, size=(23, 27), mode="bilinear", align_corners=False)
        assert torch.allclose(f1, up + G.body[1](up_big + 0.3 * noise[1]), atol=1e-6)
        last = G.body[1][-1][0]  # the block's last conv: zero it and the stage passes the upsampled features on
        last.weight.zero_(), last.bias.zero_()
        assert torch.allclose(G.features(noise, sizes, amps)[1], up, atol=1e-6)
        assert G(noise, sizes, amps).shape == (2, 3, 17, 21)


def test_patch_critic_scores_11px_patches():
    cfg = ConSinGANConfig(channels=4)
    assert critic_field(cfg) == 11
    assert PatchCritic(cfg)(torch.zeros(2, 3, 25, 33)).shape == (2, 1, 15, 23)


def test_per_pixel_gradient_penalty_on_a_linear_critic():
    critic = nn.Conv2d(3, 1, 1, bias=False)
    with torch.no_grad():
        critic.weight.copy_(torch.tensor([3.0, 0.0, 4.0]).view(1, 3, 1, 1))  # gradient (3, 0, 4) at every pixel
    real, fake = torch.randn(2, 3, 5, 6), torch.randn(2, 3, 5, 6)
    # per pixel: ||(3, 0, 4)|| = 5 -> (5 - 1)^2 = 16; per sample: ||.|| over 30 pixels = 5 sqrt(30)
    assert losses.gradient_penalty(critic, real, fake, per_pixel=True).item() == pytest.approx(16.0, rel=1e-5)
    assert losses.gradient_penalty(critic, real, fake).item() == pytest.approx((5 * 30**0.5 - 1) ** 2, rel=1e-5)


# --- training, sampling, checkpoints -----------------------------------------------------------
def test_noise_amplitude_follows_the_reconstruction_error():
    tr = trainer(n_stages=3)
    tr.fit(progress=False, until=1)
    tr.start_stage()
    with torch.no_grad():
        amps = tr.noise_amp[:1] + [0.0]
        rmse = F.mse_loss(tr.G(tr.fixed_noise, tr.sizes[:2], amps), tr.reals[1]).sqrt().item()
    assert tr.noise_amp == pytest.approx([1.0, 0.1 * rmse], rel=1e-5)
    assert torch.equal(tr.fixed_noise[0], tr.reals[0])  # stage 0 reconstructs from the photo itself


def test_resume_after_a_stage_continues_exactly(tmp_path):
    a = trainer(n_stages=3)
    a.fit(progress=False)
    b = trainer(n_stages=3)
    b.fit(progress=False, until=2, checkpoint=tmp_path / "ckpt.pt")
    c = recipe.ConSinGANTrainer.from_state(safe_load(tmp_path / "ckpt.pt"), device="cpu")
    assert c.stages_done == 2
    c.fit(progress=False)
    for p, q in zip(a.G.parameters(), c.G.parameters()):
        assert torch.equal(p, q)
    assert torch.equal(a.sample(2, seed=3), c.sample(2, seed=3))


def test_nan_stops_with_a_message(monkeypatch):
    tr = trainer(n_stages=3)
    monkeypatch.setattr(tr, "step", lambda: {"d_loss": torch.tensor(float("nan")), "rec": torch.tensor(0.0),
                                             "wasserstein": torch.tensor(0.0)})
    with pytest.raises(TrainingDiverged, match="stage 1, iteration 1"):
        tr.fit(progress=False)


def test_samples_differ_and_stage_injection_keeps_the_layout():
    tr = trainer(n_stages=3)
    tr.fit(progress=False)
    free = tr.sample(6, seed=0)
    late = tr.sample(6, seed=0, from_stage=2)
    assert free.shape == (6, 3, *tr.sizes[-1]) and free.abs().max() <= 1
    assert torch.equal(free, tr.sample(6, seed=0))  # seeded
    assert single_image.diversity(late, tr.real) < single_image.diversity(free, tr.real)
    wide = tr.sample(2, sizes=recipe.retarget_sizes(tr.sizes, width_factor=1.5))
    assert wide.shape[-1] == round(tr.sizes[-1][1] * 1.5)


def test_cli_train_and_sample(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "consingan", "--budget", "smoke", "--out", str(run), "--quiet"]) == 0
    metrics = (run / "metrics.json").read_text()
    for key in ("stage_seconds", "sifid", "sifid_shuffled", "sifid_blurred", "diversity"):
        assert f'"{key}"' in metrics
    assert (run / "samples.png").is_file() and (run / "stage_noise.png").is_file()
    assert main(["sample", str(run), "--n", "3", "--out", str(tmp_path / "s.pt")]) == 0
    samples = torch.load(tmp_path / "s.pt")
    assert samples.shape[:2] == (3, 3) and samples.abs().max() <= 1
    assert main(["sample", str(run), "--n", "3", "--label", "1", "--out", str(tmp_path / "t.pt")]) == 2
    assert "unconditional" in capsys.readouterr().err
    # resuming a finished run trains nothing and keeps the weights
    before = safe_load(run / "checkpoint.pt")["G"]
    assert main(["train", "consingan", "--budget", "smoke", "--out", str(run), "--resume", "--quiet"]) == 0
    after = safe_load(run / "checkpoint.pt")["G"]
    assert all(torch.equal(before[k], after[k]) for k in before)


# --- bad inputs -----------------------------------------------------------------------------------
def test_bad_inputs(tmp_path):
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    with pytest.raises(ImageDataError, match="not a recognised image"):
        recipe.load_photo(text)
    with pytest.raises(ImageDataError, match="No file"):
        recipe.load_photo(tmp_path / "missing.jpg")
    with pytest.raises(ValueError, match="neither a bundled photo"):
        recipe.load_photo("no_such_photo")
    with pytest.raises(ValueError, match="alpha"):
        recipe.load_photo(torch.zeros(4, 30, 30))
    assert main(["train", "consingan", "--data", str(text), "--budget", "smoke", "--out", str(tmp_path / "r")]) == 2


def test_grayscale_and_rgba_files_are_handled(tmp_path):
    gray = np.tile(np.linspace(0, 255, 40, dtype=np.uint8), (30, 1))
    Image.fromarray(gray, "L").save(tmp_path / "gray.png")
    rgba = np.zeros((30, 40, 4), np.uint8)
    rgba[..., 0], rgba[:, :20, 3] = 255, 255  # red, left half opaque, right half transparent
    Image.fromarray(rgba, "RGBA").save(tmp_path / "rgba.png")
    g = recipe.load_photo(tmp_path / "gray.png")
    assert g.shape == (3, 30, 40) and torch.equal(g[0], g[2])
    r = recipe.load_photo(tmp_path / "rgba.png")
    assert r.shape == (3, 30, 40)
    assert torch.allclose(r[:, 0, 0], torch.tensor([1.0, -1.0, -1.0])) and torch.allclose(r[:, 0, -1], torch.ones(3))
    tr = recipe.ConSinGANTrainer(tmp_path / "gray.png", ConSinGANConfig(**{**TINY, "n_stages": 2}), device="cpu")
    tr.fit(progress=False)
    assert tr.sample(2).shape == (2, 3, 18, 24)  # shrunk to max_size 24
    one = recipe.load_photo(torch.zeros(1, 20, 20))
    assert one.shape == (3, 20, 20)


# --- harmonization --------------------------------------------------------------------------------
def test_augment_and_paste():
    image = tiny_image()[None]
    g = torch.Generator().manual_seed(0)
    outs = [recipe.augment(image, g) for _ in range(20)]
    assert all(o.shape == image.shape and o.abs().max() <= 1 for o in outs)
    assert sum(not torch.equal(o, image) for o in outs) >= 15  # p 0.9 of a pasted rectangle
    g2 = torch.Generator().manual_seed(0)
    assert torch.equal(outs[0], recipe.augment(image, g2))
    naive, mask = recipe.paste(tiny_image(), torch.ones(3, 8, 8), (2, 3, 6, 5))
    assert mask.sum() == 30 and torch.equal(naive[:, 2:8, 3:8], torch.ones(3, 6, 5))
    assert torch.equal(naive[:, 0], tiny_image()[:, 0])
    with pytest.raises(ValueError, match="does not fit"):
        recipe.paste(tiny_image(), torch.ones(3, 8, 8), (10, 20, 10, 10))


def test_harmonization_trains_and_blends():
    tr = trainer(task="harmonization", n_stages=2, batch_norm=True, packed=False)
    tr.fit(progress=False)
    naive, mask = recipe.paste(tr.real, -torch.ones(3, 4, 4), (6, 8, 4, 4))
    out = recipe.harmonize(tr, naive, mask)
    assert out.shape == naive.shape
    far = torch.ones(naive.shape[1:], dtype=torch.bool)
    far[3:13, 5:15] = False  # beyond the mask softened by a 1 px Gaussian (radius 3), the photo is kept
    assert torch.allclose(out[:, far], naive[:, far], atol=1e-6)
    assert recipe.colour_gap(naive, mask) > 0.5


# --- metrics ----------------------------------------------------------------------------------------
def test_diversity_and_baselines():
    real = tiny_image(24, 32)
    assert single_image.diversity(real.expand(5, -1, -1, -1), real) == 0.0
    g = torch.Generator().manual_seed(0)
    shuffled = single_image.shuffled_patches(real, 8, g)
    assert not torch.equal(shuffled, real)
    assert torch.equal(shuffled.flatten().sort().values, real.flatten().sort().values)  # same pixels, moved
    assert single_image.blurred(real).std() < real.std()
    noise = torch.randn(4, 3, 24, 32)
    expected = (noise.std(0).mean() / real.std()).item()
    assert single_image.diversity(noise, real) == pytest.approx(expected)
    with pytest.raises(ValueError):
        single_image.diversity(real[None], real)


def test_sifid_report_has_the_baselines():
    real = tiny_image(40, 48)
    report = single_image.single_image_report(real, real.expand(3, -1, -1, -1).clone(), n_shuffled=3)
    assert report["sifid"] == pytest.approx(0.0, abs=1e-3) and report["diversity"] == 0.0
    assert report["sifid_shuffled"] > 0 and report["sifid_blurred"] > 0


# --- widget -----------------------------------------------------------------------------------------
def test_stage_noise_widget():
    from course_lib.widgets import StageNoiseExplorer

    tr = trainer(n_stages=3, iters_per_stage=40)  # trained a little, so noise changes the picture
    tr.fit(progress=False)
    wdg = StageNoiseExplorer(tr, n=6, nrow=3)
    first, div0 = wdg.image.value, wdg.diversity
    wdg.stage.value = 2
    assert wdg.image.value != first and wdg.diversity < div0
    assert "stage 2" in wdg.label.value
    photo_layout = wdg.image.value
    wdg.keep.value = "sample"
    assert wdg.image.value != photo_layout
    shown = wdg.image.value
    wdg.redraw.click()
    assert wdg.image.value != shown and wdg.seed == 1
