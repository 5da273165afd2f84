"""Library pieces lecture 03 uses: latent paths (slerp) and the interpolation figure."""
import math

import pytest
import torch

from course_lib import plotting


def test_slerp_ends_and_keeps_the_radius():
    g = torch.Generator().manual_seed(0)
    z0, z1 = torch.randn(100, generator=g), torch.randn(100, generator=g)
    z1 = z1 / z1.norm() * z0.norm()  # equal radii: the great circle keeps it all the way
    assert torch.allclose(plotting.slerp(z0, z1, 0.0), z0, atol=1e-5)
    assert torch.allclose(plotting.slerp(z0, z1, 1.0), z1, atol=1e-5)
    mid = plotting.slerp(z0, z1, 0.5)
    assert mid.norm() == pytest.approx(z0.norm().item(), rel=1e-5)
    assert (z0 + z1).div(2).norm() < 0.8 * z0.norm(), "the straight line's midpoint dips inside the sphere"


def test_slerp_on_a_quarter_circle_by_hand():
    e1, e2 = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0])  # 90 degrees apart
    third = plotting.slerp(e1, e2, 1 / 3)  # 30 degrees along
    assert torch.allclose(third, torch.tensor([math.cos(math.pi / 6), math.sin(math.pi / 6)]), atol=1e-6)


def test_latent_path_shapes_and_linear_mode():
    z0, z1 = torch.zeros(3, 4) + 1, torch.zeros(3, 4) - 1
    lin = plotting.latent_path(z0, z1, steps=5, spherical=False)
    assert lin.shape == (3, 5, 4)
    assert torch.allclose(lin[:, 2], torch.zeros(3, 4)) and torch.allclose(lin[:, 0], z0) and torch.allclose(lin[:, -1], z1)
    g = torch.Generator().manual_seed(1)
    a, b = torch.randn(8, generator=g), torch.randn(8, generator=g)
    assert plotting.latent_path(a, b, steps=7).shape == (7, 8)
    with pytest.raises(ValueError, match="at least 2"):
        plotting.latent_path(a, b, steps=1)


def test_interpolation_figure_tiles_rows():
    import matplotlib

    matplotlib.use("Agg")
    rows = torch.rand(3, 6, 3, 8, 8) * 2 - 1
    fig = plotting.interpolation_figure(rows, title="walk", row_labels=["a", "b", "c"])
    ax = fig.axes[0]
    shown = ax.images[0].get_array()
    assert shown.shape[:2] == (3 * 9 + 1, 6 * 9 + 1)  # 1-pixel gaps around 8x8 tiles
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a", "b", "c"]
    import matplotlib.pyplot as plt

    plt.close(fig)
