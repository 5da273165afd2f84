import numpy as np
import pytest
import torch
from scipy import linalg

from course_lib.metrics.frechet import frechet_distance, frechet_distance_features, gaussian_stats, trace_sqrt_product


def test_trace_sqrt_product_matches_scipy_sqrtm():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(30, 8)), rng.normal(size=(40, 8))
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    expected = np.trace(linalg.sqrtm(s1 @ s2)).real
    assert trace_sqrt_product(s1, s2) == pytest.approx(expected, rel=1e-8)


def test_fd_of_two_known_gaussians():
    # 1-D: FD = (mu1 - mu2)^2 + s1^2 + s2^2 - 2 s1 s2 = (mu1 - mu2)^2 + (s1 - s2)^2
    x = torch.tensor([[0.0], [2.0]] * 50)  # mean 1, variance (unbiased) 100/99
    y = torch.tensor([[3.0], [5.0]] * 50)  # mean 4, same variance
    assert frechet_distance_features(x, y) == pytest.approx(9.0, rel=1e-9)


def test_fd_is_zero_for_identical_sets_and_rejects_mismatched_sizes():
    x = torch.randn(200, 5, generator=torch.Generator().manual_seed(0))
    assert frechet_distance_features(x, x) == pytest.approx(0.0, abs=1e-9)
    with pytest.raises(ValueError, match="different sizes"):
        frechet_distance(gaussian_stats(x), gaussian_stats(torch.randn(200, 4)))
    with pytest.raises(ValueError, match=r"\(N, F\)"):
        gaussian_stats(torch.randn(5))
