"""Shared building blocks checked against values worked out by hand."""
import pytest
import torch

from course_lib.layers import MinibatchStd


def test_minibatch_std_by_hand():
    # 4 samples, one feature at one position: values 0, 1, 2, 5; groups of 2 are {0, 2} and {1, 3}
    x = torch.tensor([0.0, 1.0, 2.0, 5.0]).view(4, 1, 1, 1)
    out = MinibatchStd(group_size=2)(x)
    assert out.shape == (4, 2, 1, 1)
    assert torch.equal(out[:, :1], x), "the input channels pass through unchanged"
    # group {0, 2}: std of (0, 2) = 1; group {1, 5}: std of (1, 5) = 2
    assert out[:, 1].flatten().tolist() == pytest.approx([1.0, 2.0, 1.0, 2.0], abs=1e-4)
    whole = MinibatchStd(group_size=None)(x)[:, 1].flatten()  # std of (0, 1, 2, 5) = sqrt(3.5)
    assert whole.tolist() == pytest.approx([3.5 ** 0.5] * 4, abs=1e-4)


def test_minibatch_std_averages_features_and_fills_the_map():
    x = torch.zeros(2, 2, 3, 3)
    x[1, 0] = 4.0  # feature 0 differs by 4 between the two samples (std 2), feature 1 not at all
    out = MinibatchStd(group_size=2)(x)
    assert out.shape == (2, 3, 3, 3)
    assert torch.allclose(out[:, 2], torch.full((2, 3, 3), 1.0), atol=1e-4)  # mean of 2 and 0


def test_minibatch_std_sees_collapse_and_handles_odd_batches():
    same = torch.ones(8, 3, 4, 4)
    assert MinibatchStd(4)(same)[:, 3].max() < 1e-3, "identical samples give (almost) zero"
    odd = torch.randn(6, 3, 4, 4)  # 6 is not a multiple of 4: one group of 6
    assert torch.allclose(MinibatchStd(4)(odd)[:, 3], MinibatchStd(None)(odd)[:, 3])
    assert MinibatchStd(4)(torch.randn(1, 3, 4, 4)).shape == (1, 4, 4, 4)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert MinibatchStd(4)(odd.bfloat16()).dtype == torch.bfloat16
    with pytest.raises(ValueError, match="at least 2"):
        MinibatchStd(1)


def test_dcgan_discriminator_with_minibatch_std():
    from course_lib.models import dcgan

    plain = dcgan.Discriminator(dcgan.DCGANConfig(image_size=16, d_width=4))
    cfg = dcgan.DCGANConfig(image_size=16, d_width=4, mbstd_group=2)
    D = dcgan.Discriminator(cfg).eval()
    assert sum(p.numel() for p in D.parameters()) - sum(p.numel() for p in plain.parameters()) == 16, \
        "one more input channel to the last 4x4 convolution: 16 weights"
    x = torch.randn(4, 3, 16, 16)
    partner_changed = x.clone()
    partner_changed[2] = torch.randn(3, 16, 16)  # sample 2 shares a group with sample 0, not with 1
    a, b = D(x), D(partner_changed)
    assert a.shape == (4,)
    assert not torch.allclose(a[0], b[0]), "a sample's score depends on the others in its group"
    assert torch.allclose(a[1], b[1]) and torch.allclose(a[3], b[3]), "and not on the other groups"
    with pytest.raises(ValueError, match="mbstd_group"):
        dcgan.DCGANConfig(mbstd_group=1)
