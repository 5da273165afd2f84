"""The 2-D mixtures (ring8, grid25) and VEEGAN's mode-coverage protocol on hand-made point sets."""
import math

import pytest
import torch

from course_lib import registry
from course_lib.data import toys
from course_lib.metrics.coverage import mode_coverage, nearest_modes


def test_ring8_centres_and_std():
    c = toys.RING8.centres
    assert c.shape == (8, 2) and toys.RING8.std == 0.02
    assert torch.allclose(c.norm(dim=1), torch.full((8,), 2.0), atol=1e-6)  # radius 2
    assert torch.allclose(c[0], torch.tensor([2.0, 0.0]), atol=1e-6)
    assert torch.allclose(c[2], torch.tensor([0.0, 2.0]), atol=1e-6)  # evenly spaced: 90 degrees per 2 modes
    gaps = (c - c.roll(1, 0)).norm(dim=1)
    assert torch.allclose(gaps, torch.full((8,), 2 * 2 * math.sin(math.pi / 8)), atol=1e-5)


def test_grid25_centres_and_std():
    c = toys.GRID25.centres
    assert c.shape == (25, 2) and toys.GRID25.std == 0.05
    want = {(float(x), float(y)) for x in (-4, -2, 0, 2, 4) for y in (-4, -2, 0, 2, 4)}
    assert {tuple(p) for p in c.tolist()} == want


@pytest.mark.parametrize("name, n_modes, std", [("ring8", 8, 0.02), ("grid25", 25, 0.05)])
def test_registered_datasets(name, n_modes, std):
    ds = registry.dataset(name, n=4000, seed=3)
    assert ds.name == name and ds.procedural and ds.images.shape == (4000, 2)
    assert ds.labels.min() >= 0 and ds.labels.max() == n_modes - 1
    assert torch.equal(ds.images, registry.dataset(name, n=4000, seed=3).images)  # deterministic by seed
    assert not torch.equal(ds.images, registry.dataset(name, n=4000, seed=4).images)
    mix = toys.mixture(name)
    offsets = ds.images - mix.centres[ds.labels]  # each point minus the centre it was drawn from
    assert offsets.std().item() == pytest.approx(std, rel=0.05)
    assert offsets.mean(0).abs().max().item() < 0.1 * std
    assert f"{n_modes} Gaussians, std {std:g}" in ds.source


def test_bad_names_and_sizes():
    with pytest.raises(ValueError, match="Unknown 2-D mixture"):
        toys.mixture("ring9")
    with pytest.raises(ValueError, match="positive"):
        toys.RING8.sample(0)


def test_coverage_of_the_centres_themselves():
    c = toys.RING8.centres
    cov = mode_coverage(c.repeat(10, 1), c, 0.02)
    assert cov["modes"] == 8 and cov["high_quality"] == 1.0 and cov["mode_counts"] == [10] * 8


def test_coverage_of_a_collapsed_generator():
    c = toys.RING8.centres
    points = c[3] + 0.01 * torch.randn(2500, 2, generator=torch.Generator().manual_seed(0))  # 0.5 std
    cov = mode_coverage(points, c, 0.02)
    assert cov["modes"] == 1 and cov["mode_counts"][3] > 0 and cov["high_quality"] > 0.99


def test_points_between_modes_are_not_high_quality():
    c = toys.RING8.centres
    cov = mode_coverage(torch.zeros(100, 2), c, 0.02)  # the origin: 2 from every mode, 100 std
    assert cov["modes"] == 0 and cov["high_quality"] == 0.0
    # half on modes 0..3, half at the origin: 4 modes, 50%
    points = torch.cat([c[:4].repeat(25, 1), torch.zeros(100, 2)])
    cov = mode_coverage(points, c, 0.02)
    assert cov["modes"] == 4 and cov["high_quality"] == pytest.approx(0.5)


def test_the_three_std_boundary():
    c = toys.RING8.centres
    inside = c[0] + torch.tensor([[0.0, 2.9 * 0.02]])
    outside = c[0] + torch.tensor([[0.0, 3.1 * 0.02]])
    assert mode_coverage(inside, c, 0.02)["modes"] == 1
    assert mode_coverage(outside, c, 0.02)["modes"] == 0
    # A mode is captured only through a high-quality sample whose *nearest* mode it is.
    far = mode_coverage(torch.cat([inside, outside + 0.3]), c, 0.02)
    assert far["modes"] == 1 and far["high_quality"] == 0.5


def test_real_samples_score_by_the_2d_gaussian_law():
    # For an isotropic 2-D Gaussian, P(|x - mu| <= 3 std) = 1 - exp(-9/2) = 0.9889.
    for mix in (toys.RING8, toys.GRID25):
        points, _ = mix.sample(20_000, torch.Generator().manual_seed(1))
        cov = mode_coverage(points, mix.centres, mix.std)
        assert cov["modes"] == mix.n_modes
        assert cov["high_quality"] == pytest.approx(1 - math.exp(-4.5), abs=0.003)


def test_grid_coverage_and_nonfinite_samples():
    c = toys.GRID25.centres
    shifted = c + 0.1  # 0.1 * sqrt(2) = 2.8 std from each centre: still high quality
    assert mode_coverage(shifted, c, 0.05)["modes"] == 25
    bad = torch.cat([c[:5], torch.full((5, 2), float("nan"))])
    cov = mode_coverage(bad, c, 0.05)
    assert cov["modes"] == 5 and cov["high_quality"] == 0.5


def test_nearest_modes_and_shape_check():
    c = toys.GRID25.centres
    idx, dist = nearest_modes(torch.tensor([[1.9, 4.2], [-0.1, -0.1]]), c)
    assert c[idx[0]].tolist() == [2.0, 4.0] and c[idx[1]].tolist() == [0.0, 0.0]
    assert dist[1].item() == pytest.approx(0.1 * math.sqrt(2), rel=1e-5)
    with pytest.raises(ValueError, match=r"points must be \(N, 2\)"):
        nearest_modes(torch.zeros(3, 3), c)
