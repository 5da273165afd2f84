"""The face-feature metrics' helpers, without training the feature network (a fresh one is enough)."""
from __future__ import annotations

import pytest
import torch

from course_lib.data import anime
from course_lib.metrics import faces


def _rigged_net(winner: int) -> faces.FaceFeatureNet:
    """A feature net whose every head answers ``winner`` (bias far above anything the weights give)."""
    torch.manual_seed(0)
    net = faces.FaceFeatureNet(width=4)
    with torch.no_grad():
        for head in net.heads.values():
            head.weight.zero_()
            head.bias.fill_(-10.0)
            head.bias[winner] = 10.0
    return net


def test_attribute_shares_count_what_the_heads_read():
    images = torch.rand(7, 3, 16, 16) * 2 - 1
    shares = faces.attribute_shares(_rigged_net(2), images)
    assert set(shares) == set(anime.ATTRIBUTES)
    for k, v in shares.items():
        assert v.shape == (len(anime.ATTRIBUTES[k]),)
        assert v[2] == 1.0 and v.sum() == pytest.approx(1.0)


def test_share_gap_is_total_variation():
    p = torch.tensor([0.5, 0.5, 0.0])
    assert faces.share_gap(p, p) == 0.0
    assert faces.share_gap(p, torch.tensor([0.0, 0.0, 1.0])) == pytest.approx(1.0)
    assert faces.share_gap(p, torch.tensor([1.0, 0.0, 0.0])) == pytest.approx(0.5)


def test_gaussian_blur_keeps_flat_images_and_softens_edges():
    flat = torch.full((1, 3, 12, 12), 0.3)
    assert torch.allclose(faces.gaussian_blur(flat, 1.0), flat, atol=1e-6)
    step = torch.zeros(1, 1, 12, 12)
    step[..., 6:] = 1.0
    blurred = faces.gaussian_blur(step, 1.0)
    assert 0 < blurred[0, 0, 0, 5] < 0.5 < blurred[0, 0, 0, 6] < 1  # the edge is now a ramp
    assert blurred.shape == step.shape


def test_nearest_distances_by_hand():
    pool = torch.tensor([[0.0, 0.0], [3.0, 4.0]])
    queries = torch.tensor([[0.0, 1.0], [3.0, 4.0], [6.0, 8.0]])
    assert torch.allclose(faces.nearest_distances(queries, pool, chunk=2), torch.tensor([1.0, 0.0, 5.0]))


def test_feature_net_seed_picks_another_cached_network():
    course, other = faces.settings_for(32, "smoke"), faces.settings_for(32, "smoke", seed=11)
    assert course.seed == faces.FEATURE_TRAIN_SEED and other.seed == 11
    assert course.cache_key() != other.cache_key()  # never served the course's network for another seed
