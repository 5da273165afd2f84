"""Lecture 12: Siamese/TraVeL losses by hand, tiling, the Combo model, the painterly domain, the recipe."""
from __future__ import annotations

import dataclasses
import json
import math
import socket

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from course_lib import losses
from course_lib.data.painterly import (PaintingDomains, PainterlyStyle, activity, close_dark_lines, painterly,
                                       random_crops, stroke_map)
from course_lib.layers import luminance
from course_lib.metrics.translation import seam_band, seam_profile, seam_score
from course_lib.models import siamese_hd as shd
from course_lib.recipes import siamese_hd as recipe
from course_lib.recipes import siamese_hd_diagnosis as diagnosis


# --- Loss terms against values computed by hand ----------------------------------------------------
V = torch.tensor([[3.0, 4.0], [0.0, 1.0]])  # norms 5 and 1


def test_squared_norm_loss():
    assert losses.squared_norm_loss(V).item() == pytest.approx((25 + 1) / 2)  # LossD1 / LossG1
    assert losses.squared_norm_loss(torch.zeros(3, 4)).item() == 0.0


def test_margin_loss():
    # margin 2: max(0, 2 - 5)^2 = 0, max(0, 2 - 1)^2 = 1 -> mean 0.5
    assert losses.margin_loss(V, 2.0).item() == pytest.approx(0.5)
    assert losses.margin_loss(V, 0.5).item() == 0.0
    assert losses.margin_loss(torch.zeros(2, 3), 2.0).item() == pytest.approx(4.0)


def test_travel_vectors_are_all_pairs_i_lt_j():
    v = torch.tensor([[1.0, 0.0], [0.0, 2.0], [3.0, 3.0]])
    expected = torch.tensor([[1.0, -2.0], [-2.0, -3.0], [-3.0, -1.0]])  # v0-v1, v0-v2, v1-v2
    assert torch.equal(losses.travel_vectors(v), expected)
    with pytest.raises(ValueError, match="at least 2"):
        losses.travel_vectors(torch.zeros(1, 2))


def test_travel_cosine_loss():
    a = torch.tensor([[0.0, 0.0], [1.0, 0.0]])  # t_a = [-1, 0]
    assert losses.travel_cosine_loss(a, torch.tensor([[0.0, 0.0], [5.0, 0.0]])).item() == pytest.approx(0.0)  # same way
    assert losses.travel_cosine_loss(a, torch.tensor([[0.0, 0.0], [0.0, 1.0]])).item() == pytest.approx(1.0)  # orthogonal
    assert losses.travel_cosine_loss(a, torch.tensor([[1.0, 0.0], [0.0, 0.0]])).item() == pytest.approx(2.0)  # opposite
    # three vectors, three pairs: t_a = [-1,0], [0,-1], [1,-1]; t_ab = [-1,-1], [0,-2], [1,-1]
    a3 = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    ab3 = torch.tensor([[0.0, 0.0], [1.0, 1.0], [0.0, 2.0]])
    cos = [1 / math.sqrt(2), 1.0, 1.0]
    assert losses.travel_cosine_loss(a3, ab3).item() == pytest.approx(sum(1 - c for c in cos) / 3, rel=1e-6)


def test_travel_mse_loss():
    a = torch.tensor([[0.0, 0.0], [1.0, 0.0]])  # t_a = [-1, 0]
    ab = torch.tensor([[0.0, 0.0], [0.0, 1.0]])  # t_ab = [0, -1]; difference [-1, 1] -> mean square 1
    assert losses.travel_mse_loss(a, ab).item() == pytest.approx(1.0)
    # a translation that shifts every vector by the same offset keeps every transformation vector
    assert losses.travel_mse_loss(a, a + torch.tensor([7.0, -2.0])).item() == pytest.approx(0.0)


def test_travel_pair_margin_loss():
    a = torch.tensor([[0.0, 0.0], [1.0, 0.0], [3.0, 0.0]])  # pair distances 1, 3, 2
    # margin 2: (2 - 1)^2 = 1, 0, 0 -> mean 1/3
    assert losses.travel_pair_margin_loss(a, 2.0).item() == pytest.approx(1 / 3)


def test_loss_gradients_point_the_right_way():
    v = torch.tensor([[0.3, 0.4]], requires_grad=True)  # norm 0.5 < margin 2
    losses.margin_loss(v, 2.0).backward()
    assert (v.grad * v).sum() < 0  # D2 pushes the translation's vector outwards
    v.grad = None
    losses.squared_norm_loss(v).backward()
    assert torch.allclose(v.grad, 2 * v.detach())  # D1/G1 pull it to the origin


# --- Tiles ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("h,w", [(32, 48), (33, 47), (5, 7), (1, 1), (8, 100), (64, 3)])
def test_translate_full_with_identity_returns_input_exactly(h, w):
    x = torch.rand(2, 3, h, w) * 2 - 1
    y = shd.translate_full(nn.Identity(), x, tile=16)
    assert y.shape == x.shape and torch.equal(y, x)
    assert torch.equal(shd.translate_full(nn.Identity(), x[0], tile=16), x[0])  # (3, H, W) too


def test_split_merge_round_trip():
    x = torch.randn(2, 3, 24, 40)
    tiles = shd.split_tiles(x, 8)
    assert tiles.shape == (2 * 3 * 5, 3, 8, 8)
    assert torch.equal(tiles[15 + 1], x[1, :, 0:8, 8:16])  # row-major per image: image 1 (15 tiles on), row 0, column 1
    assert torch.equal(shd.merge_tiles(tiles, 2, 3, 5), x)
    with pytest.raises(ValueError, match="multiples"):
        shd.split_tiles(torch.zeros(1, 3, 10, 16), 8)


def test_padding_reflects_when_it_can_and_replicates_otherwise():
    x = torch.arange(6.0).view(1, 1, 2, 3)
    padded, size = shd.pad_to_multiple(x, 4)  # pad 2 rows (not < 2: replicate) and 1 column
    assert size == (2, 3) and padded.shape == (1, 1, 4, 4)
    assert torch.equal(padded[0, 0, 3], padded[0, 0, 1])  # replicated last row
    big = torch.arange(30.0).view(1, 1, 5, 6)
    padded, _ = shd.pad_to_multiple(big, 4)  # 3 rows < 5 and 2 columns < 6: reflect
    assert torch.equal(padded[0, 0, 5, :6], big[0, 0, 3])  # reflection skips the edge row
    assert torch.equal(padded[0, 0, 0, 6:], big[0, 0, 0, [4, 3]])
    padded, size = shd.pad_to_multiple(x, 4, minimum=8)  # at least 8 per side, still multiples of 4
    assert size == (2, 3) and padded.shape == (1, 1, 8, 8) and torch.equal(padded[..., :2, :3], x)
    padded, _ = shd.pad_to_multiple(big, 4, minimum=7)
    assert padded.shape == (1, 1, 8, 8)


def test_translate_full_translates_tiles_independently():
    G = lambda t: t - t.mean((-2, -1), keepdim=True)  # depends on the whole tile
    x = torch.randn(1, 3, 32, 48)
    y = shd.translate_full(G, x, tile=16)
    assert torch.allclose(y[..., 16:32, 32:48], G(x[..., 16:32, 32:48]))
    assert not torch.allclose(y, G(x))  # not the same as the whole image at once


def test_translate_full_rejects_bad_input():
    with pytest.raises(ValueError, match="tile"):
        shd.translate_full(nn.Identity(), torch.zeros(3, 8, 8), tile=0)
    with pytest.raises(ValueError, match="shape"):
        shd.translate_full(nn.Identity(), torch.zeros(8, 8), tile=4)


def test_small_image_with_the_real_generator_is_padded_not_a_crash():
    G = shd.Generator(shd.SiameseHDConfig(tile=16, g_width=4, g_blocks=1)).eval()
    for size in [(3, 5), (16, 16), (17, 40)]:
        assert shd.translate_full(G, torch.rand(3, *size) * 2 - 1, tile=16).shape == (3, *size)
        assert shd.translate_whole(G, torch.rand(3, *size) * 2 - 1).shape == (3, *size)


# --- Networks and the Combo model -----------------------------------------------------------------------
def test_networks_shapes_and_near_identity_start():
    cfg = shd.SiameseHDConfig(tile=16, g_width=8, g_blocks=1, d_width=8, lenvec=32)
    G, D = shd.build(cfg)
    x = torch.rand(4, 3, 16, 16) * 1.6 - 0.8
    y = G(x)
    assert y.shape == x.shape and y.abs().max() < 1
    assert (y - 0.99 * x).abs().mean() < 0.1  # starts close to the identity
    assert D(torch.zeros(5, 3, 32, 32)).shape == (5, 32)
    with pytest.raises(ValueError, match="32x32"):
        D(torch.zeros(1, 3, 16, 16))
    _, D_naive = shd.build(cfg, naive=True)
    assert D_naive(torch.zeros(2, 3, 16, 16)).shape == (2, 32)


def test_spectral_norm_in_g_spares_the_head_and_keeps_the_near_identity_start():
    cfg = shd.SiameseHDConfig(tile=16, g_width=8, g_blocks=1, g_spectral_norm=True)
    G = shd.Generator(cfg)
    convs = [m for m in G.modules() if isinstance(m, nn.Conv2d)]
    normed = [m for m in convs if hasattr(m, "weight_orig")]
    assert len(normed) == len(convs) - 1 and not hasattr(G.head, "weight_orig")
    x = torch.rand(4, 3, 16, 16) * 1.6 - 0.8
    for _ in range(20):  # power iterations (one per training-mode call) sharpen the estimate
        y = G(x)
    assert (y - 0.99 * x).abs().mean() < 0.1
    for m in normed:  # the weight the layer uses has a largest singular value of about 1
        assert torch.linalg.matrix_norm(m.weight.flatten(1), ord=2).item() == pytest.approx(1.0, abs=0.05)
    plain = shd.Generator(shd.SiameseHDConfig(tile=16, g_width=8, g_blocks=1))
    assert not any(hasattr(m, "weight_orig") for m in plain.modules())


def test_combo_translates_each_quarter_on_its_own():
    G = shd.Generator(shd.SiameseHDConfig(tile=8, g_width=4, g_blocks=1))
    x = torch.randn(3, 3, 16, 16)
    y = shd.combo(G, x)
    assert y.shape == x.shape
    assert torch.allclose(y[:, :, 8:, :8], G(x[:, :, 8:, :8]), atol=1e-6)  # bottom-left quarter
    assert torch.allclose(shd.Combo(G)(x), y)
    assert sum(p.numel() for p in shd.Combo(G).parameters()) == sum(p.numel() for p in G.parameters())


# --- Seam score ------------------------------------------------------------------------------------------
def test_seam_score_by_hand():
    ramp = torch.arange(64.0).view(1, 1, 1, 64).expand(1, 3, 64, 64) / 64  # every column step is 1/64
    # borders: rows differ by 0, columns by 1/64 -> mean 1/128; inside the same -> ratio exactly 1
    assert seam_score(ramp, 16) == pytest.approx(1.0)
    steps = ramp.clone()
    steps[..., 16:] += 3 / 64  # a jump of 4/64 (not 1/64) between columns 15 and 16 only
    # border columns 16, 32, 48: (4 + 1 + 1) / 3 / 64; rows 0 -> border mean (2/64 + 0) / 2, inside (1/64 + 0) / 2
    assert seam_score(steps, 16) == pytest.approx(2.0)
    tiles = torch.zeros(1, 3, 32, 32)
    tiles[..., 16:, :] += 0.5  # a jump at the border row 16, nothing inside
    noise = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(0)) * 0.1
    assert seam_score(tiles + noise, 16) > 2.0
    assert 0.8 < seam_score(noise, 16) < 1.25
    with pytest.raises(ValueError, match="no tile border"):
        seam_score(torch.zeros(3, 16, 16), 16)


def test_seam_profile_tells_a_step_from_a_frame():
    noise = torch.rand(3, 64, 64, generator=torch.Generator().manual_seed(0)) * 0.1
    step = noise.clone()
    step[:, 16:32] += 0.5  # one tile row brighter: steps into rows 16 and 32 (position 0)
    p = seam_profile(step, 16)
    assert p.shape == (16,) and p.argmax() == 0 and p[0] > 3 and 0.8 < p[8] < 1.25
    frame = noise.clone()
    for b in range(0, 64, 16):  # every tile darkens its own first and last rows and columns
        frame[:, [b, b + 15]] -= 0.5
        frame[:, :, [b, b + 15]] -= 0.5
    p = seam_profile(frame, 16)
    assert p[1] > 3 and p[15] > 3 and p[0] < 1.5  # lines beside the border, no step at it
    assert seam_score(frame, 16) < 1.25  # the seam score alone does not see the frame ...
    assert seam_band(frame, 16) > 3 and seam_band(step, 16) > 3  # ... the band sees both
    assert 0.8 < seam_band(noise, 16) < 1.3
    with pytest.raises(ValueError, match="side longer than the tile"):
        seam_profile(torch.zeros(3, 16, 16), 16)


# --- The painterly domain -----------------------------------------------------------------------------------
def test_painterly_is_deterministic_and_draws_dark_strokes_on_edges():
    x = torch.full((3, 40, 40), 0.6)
    x[:, :, 20:] = -0.6  # a vertical edge at column 20
    p1, p2 = painterly(x), painterly(x.unsqueeze(0))[0]
    assert p1.shape == x.shape and torch.equal(p1, p2)
    assert p1.min() >= -1 and p1.max() <= 1
    lum = p1.mean(0)
    assert lum[:, 19:21].mean() < lum[:, 5:10].mean() - 0.3  # dark stroke along the edge (bright side)
    flat = painterly(torch.zeros(3, 40, 40), PainterlyStyle(canvas=0.0))
    assert torch.allclose(flat, flat[:, :1, :1].expand_as(flat))  # flat stays flat without texture
    with pytest.raises(ValueError, match="too small"):
        painterly(torch.zeros(3, 3, 3))


def tiny_domains(crop: int = 16) -> PaintingDomains:
    g = torch.Generator().manual_seed(0)
    smooth = lambda: torch.nn.functional.avg_pool2d(torch.rand(1, 3, 48, 64, generator=g) * 2 - 1, 5, 1, 2)[0]
    a, b = [smooth() for _ in range(2)], [painterly(smooth()) for _ in range(2)]
    held = smooth()
    return PaintingDomains(name="painterly", images=random_crops(a, 4, crop, g), labels={"B": random_crops(b, 4, crop, g)},
                           source="test", procedural=True, domain_a=a, domain_b=b, heldout=held,
                           heldout_painting=painterly(held), crop=crop, factor=1.0)


def test_random_crops_are_repeatable_and_refuse_small_images():
    d = tiny_domains()
    c1 = random_crops(d.domain_a, 5, 16, torch.Generator().manual_seed(3))
    c2 = random_crops(d.domain_a, 5, 16, torch.Generator().manual_seed(3))
    assert c1.shape == (5, 3, 16, 16) and torch.equal(c1, c2)
    with pytest.raises(ValueError, match="smaller than the 64 px crop"):
        random_crops(d.domain_a, 1, 64, torch.Generator())


def test_min_activity_redraws_flat_crops():
    flat = torch.full((3, 40, 40), -0.9)  # a black sky: activity 0
    textured = torch.rand(3, 40, 40, generator=torch.Generator().manual_seed(0)) * 2 - 1
    assert float(activity(flat[None])) == 0.0 and float(activity(textured[None])) > 0.3
    g = torch.Generator().manual_seed(1)
    plain = random_crops([flat, textured], 32, 16, g)
    assert (activity(plain) == 0).any()  # half the plain draws come from the flat image
    kept = random_crops([flat, textured], 32, 16, torch.Generator().manual_seed(1), min_activity=0.1)
    assert (activity(kept) > 0.3).all()
    # with nothing active enough, it keeps the most active crop it drew rather than looping forever
    only_flat = random_crops([flat], 3, 16, torch.Generator().manual_seed(1), min_activity=0.1, max_tries=4)
    assert only_flat.shape == (3, 3, 16, 16)


def test_crop_batches_rotate_by_quarter_turns():
    d = tiny_domains()
    plain = d.batches(8).next(torch.Generator().manual_seed(2))
    turned = d.batches(8, rotate=True).next(torch.Generator().manual_seed(2))
    for p, t in zip(plain, turned):  # the same crops, each turned by 0, 90, 180 or 270 degrees
        assert all(any(torch.equal(tc, pc.rot90(k, (-2, -1))) for k in range(4)) for pc, tc in zip(p, t))
        assert not torch.equal(p, t)


# --- One training step, and the recipe --------------------------------------------------------------------
def _params(m):
    return [p.detach().clone() for p in m.parameters()]


def _changed(before, m):
    return any(not torch.equal(a, b) for a, b in zip(before, m.parameters()))


@pytest.mark.parametrize("naive", [False, True])
def test_one_step_changes_the_right_weights(naive):
    s = recipe.settings("smoke")
    tr = recipe.make_trainer(tiny_domains(2 * s["tile"]), s, naive=naive, device="cpu")
    g0, d0 = _params(tr.G), _params(tr.D)
    stats = tr.d_step()
    assert _changed(d0, tr.D) and not _changed(g0, tr.G)
    assert {"D1_real", "D2_fake_margin", "D3_travel_cos", "D_travel_mse", "D_pair_margin"} <= set(stats)
    d1 = _params(tr.D)
    stats = tr.g_step()
    assert _changed(g0, tr.G) and not _changed(d1, tr.D)
    assert {"G1_pull", "G2_travel_cos", "G_travel_mse"} <= set(stats)
    assert all(torch.isfinite(v) for v in stats.values())


def test_naive_quarters_see_the_combos_pixels_and_otherwise_one_crop_of_each():
    s = recipe.settings("smoke")
    tile, n = s["tile"], s["batch_size"]
    combo = recipe.make_trainer(tiny_domains(2 * tile), s, seed=3, device="cpu")
    quarters = recipe.make_trainer(tiny_domains(2 * tile), {**s, "naive_quarters": True}, seed=3, naive=True, device="cpu")
    one = recipe.make_trainer(tiny_domains(2 * tile), {**s, "naive_quarters": False}, seed=3, naive=True, device="cpu")
    (a, b), (qa, qb), (oa, ob) = combo._batch(), quarters._batch(), one._batch()
    assert qa.shape == qb.shape == (4 * n, 3, tile, tile) and oa.shape == ob.shape == (n, 3, tile, tile)
    assert torch.equal(shd.merge_tiles(qa, n, 2, 2), a) and torch.equal(shd.merge_tiles(qb, n, 2, 2), b)
    assert any(torch.equal(oa[0], a[0, :, i:i + tile, j:j + tile]) for i in range(tile + 1) for j in range(tile + 1))


def test_d_learning_rate_critic_steps_and_decay_follow_the_settings():
    s = {**recipe.settings("smoke"), "lr": 1e-3, "lr_d": 4e-3, "n_critic": 2, "lr_decay_from": 0.5, "steps": 4}
    tr = recipe.make_trainer(tiny_domains(2 * s["tile"]), s, device="cpu")
    assert tr.n_critic == 2
    assert tr.opt_G.param_groups[0]["lr"] == 1e-3 and tr.opt_D.param_groups[0]["lr"] == 4e-3
    tr.fit(3, progress=False)  # decay from update 2 to 4: after update 3 both rates are at half
    assert tr.opt_G.param_groups[0]["lr"] == pytest.approx(5e-4)
    assert tr.opt_D.param_groups[0]["lr"] == pytest.approx(2e-3)
    bare = {k: v for k, v in recipe.settings("smoke").items() if k not in ("lr", "lr_decay_from")}
    plain = recipe.make_trainer(tiny_domains(2 * s["tile"]), bare, device="cpu")
    plain.fit(3, progress=False)  # no decay without lr_decay_from
    assert plain.opt_G.param_groups[0]["lr"] == plain.opt_D.param_groups[0]["lr"] == shd.SiameseHDConfig.lr


@pytest.mark.parametrize("mse_weight", [1.0, 0.25])
def test_objective_weights_the_terms_as_documented(mse_weight):
    s = {**recipe.settings("smoke"), "travel_mse_weight": mse_weight}
    tr = recipe.make_trainer(tiny_domains(2 * s["tile"]), s, device="cpu")
    assert tr.objective.mse_weight == mse_weight
    batch = tr.data.next(torch.Generator().manual_seed(0))
    loss, st = tr.objective.d_loss(tr.G, tr.D, batch, tr._ctx)
    w = tr.objective.travel_weight
    expected = st["D1_real"] + st["D2_fake_margin"] + w * (st["D3_travel_cos"] + mse_weight * st["D_travel_mse"]
                                                           + st["D_pair_margin"])
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)
    loss, st = tr.objective.g_loss(tr.G, tr.D, batch, tr._ctx)
    w_id = tr.objective.identity_weight
    assert w_id > 0 and st["G_travel_mse"] > 0
    expected = st["G1_pull"] + w * (st["G2_travel_cos"] + mse_weight * st["G_travel_mse"]) + w_id * st["G_identity"]
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)


def test_closed_paintings_are_pushed_off_as_fakes_when_asked():
    s = {**recipe.settings("smoke"), "negative_weight": 0.5, "closing": 3}
    tr = recipe.make_trainer(tiny_domains(2 * s["tile"]), s, device="cpu")
    batch = tr.data.next(torch.Generator().manual_seed(0))
    tr.D.eval()  # spectral norm's power iteration would move D between the two calls
    loss, st = tr.objective.d_loss(tr.G, tr.D, batch, tr._ctx)
    closed = losses.margin_loss(tr.D(close_dark_lines(batch[1], 3)), tr.objective.margin)
    assert st["D_closed_margin"].item() == pytest.approx(closed.item(), rel=1e-5)
    w = tr.objective.travel_weight
    rest = st["D1_real"] + st["D2_fake_margin"] + w * (st["D3_travel_cos"] + st["D_travel_mse"] + st["D_pair_margin"])
    assert loss.item() == pytest.approx((rest + 0.5 * closed).item(), rel=1e-5)
    plain = recipe.make_trainer(tiny_domains(2 * s["tile"]), {**s, "negative_weight": 0.0}, device="cpu")
    assert "D_closed_margin" not in plain.objective.d_loss(plain.G, plain.D, batch, plain._ctx)[1]


def test_close_dark_lines_fills_thin_lines_and_keeps_wide_dark_areas():
    x = torch.full((1, 3, 24, 24), 0.5)
    x[..., 3, :] = -1.0  # a 1 px line
    x[..., :, 6:9] = -0.5  # a 3 px line
    x[..., :, 0] = -1.0  # a line on the image's border
    square = (slice(12, 21), slice(12, 21))
    x[..., square[0], square[1]] = -1.0  # 9 px wide: kept by a 7 px closing
    closed = close_dark_lines(x, 7)
    expected = torch.full_like(x, 0.5)
    expected[..., square[0], square[1]] = -1.0
    assert torch.equal(closed, expected)
    noise = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(0)) * 2 - 1
    assert (close_dark_lines(noise, 5) >= noise).all()  # no pixel gets darker
    assert torch.equal(close_dark_lines(noise, 1), noise)
    with pytest.raises(ValueError, match="odd width"):
        close_dark_lines(noise, 4)
    with pytest.raises(ValueError, match="odd width"):  # refused when the run is set up, not at its first step
        recipe.make_trainer(tiny_domains(16), {**recipe.settings("smoke"), "negative_weight": 1.0, "closing": 4})


def test_identity_term_is_zero_for_an_identity_g_and_sees_paintings_only():
    s = recipe.settings("smoke")
    tr = recipe.make_trainer(tiny_domains(2 * s["tile"]), s, device="cpu")
    a, b = tr.data.next(torch.Generator().manual_seed(0))
    obj = tr.objective
    _, st = obj.g_loss(nn.Identity(), tr.D, (a, b), tr._ctx)
    assert st["G_identity"].item() == 0.0
    darker = lambda x: x * 0.5  # noqa: E731  (a "G" that changes colours: the term measures it on B)
    _, st = obj.g_loss(darker, tr.D, (a, b), tr._ctx)
    assert st["G_identity"].item() == pytest.approx((b * 0.5 - b).abs().mean().item(), rel=1e-5)


def test_local_mean_is_the_reflect_padded_box_mean():
    x = torch.randn(2, 3, 20, 17)
    for window in (1, 7, 15):
        r = window // 2
        box = F.avg_pool2d(F.pad(x, (r, r, r, r), mode="reflect"), window, stride=1)  # the 2-D definition
        assert torch.allclose(shd.local_mean(x, window), box, atol=1e-6)
        assert torch.allclose(shd.detail_layer(x, window), x - box, atol=1e-6)


def test_detail_layer_d_ignores_palette_shifts_but_sees_seams():
    torch.manual_seed(0)
    cfg = shd.SiameseHDConfig(tile=8, g_width=4, g_blocks=1, d_width=8, lenvec=16)
    D = shd.SiameseDiscriminator(cfg)
    x = torch.rand(2, 3, 16, 16) * 1.2 - 0.6
    for _ in range(10):  # spectral norm's power iteration settles in training mode, then stays put in eval
        D(x)
    D.eval()
    shifted = x + torch.tensor([0.3, -0.2, 0.1]).view(1, 3, 1, 1)  # a global colour cast
    assert torch.allclose(D(shifted), D(x), atol=1e-5)
    seam = x.clone()
    seam[..., :, 8:] += 0.3  # one half brighter: a step at the tile border is a detail
    assert not torch.allclose(D(seam), D(x), atol=1e-3)
    flat = shd.detail_layer(torch.full((1, 3, 9, 9), 0.4))
    assert flat.abs().max() < 1e-6
    with pytest.raises(ValueError, match="odd"):
        shd.detail_layer(x, 4)
    D_pixels = shd.SiameseDiscriminator(shd.SiameseHDConfig(tile=8, d_width=8, lenvec=16, d_sees="image"))
    D_pixels(x)
    assert not torch.allclose(D_pixels(shifted), D_pixels(x), atol=1e-3)


def test_detail_plus_luma_d_sees_brightness_but_not_hue():
    torch.manual_seed(0)
    D = shd.SiameseDiscriminator(shd.SiameseHDConfig(tile=8, d_width=8, lenvec=16, d_sees="detail+luma"))
    x = torch.rand(2, 3, 16, 16) * 1.2 - 0.6
    for _ in range(10):  # let spectral norm's power iteration settle, then freeze it
        D(x)
    D.eval()
    hue = torch.tensor([0.3, -0.1, 0.0])
    hue[2] = -(0.299 * hue[0] + 0.587 * hue[1]) / 0.114  # a colour cast of zero luminance
    assert torch.allclose(D(x + hue.view(1, 3, 1, 1)), D(x), atol=1e-5)
    assert not torch.allclose(D(x - 0.2), D(x), atol=1e-3)  # darker all over: the detail-only D is blind to it
    with pytest.raises(ValueError, match="d_sees"):
        shd.SiameseDiscriminator(shd.SiameseHDConfig(tile=8, d_sees="colour"))


def test_style_by_layer_splits_at_the_window_and_moves_brightness_only():
    d = tiny_domains()
    photo, painting = d.heldout, d.heldout_painting
    shares = diagnosis.style_by_layer(d, 1, {"the painting": painting, "the photo": photo})
    # a 1 px window leaves everything in the base layer: swapping the detail swaps nothing
    assert shares["photo base + painting detail"] == pytest.approx(0.0, abs=1e-3)
    assert shares["painting base + photo detail"] == pytest.approx(1.0, abs=1e-3)
    assert shares["the painting"] == pytest.approx(1.0, abs=1e-3)
    assert shares["the painting, painting's mean luminance"] == pytest.approx(1.0, abs=1e-3)
    assert shares["the photo"] == pytest.approx(0.0, abs=1e-3)
    wide = diagnosis.style_by_layer(d, 15)
    assert 0.0 < wide["photo base + painting detail"] < 1.0
    moved = diagnosis.with_mean_luminance(photo, painting)
    assert moved.abs().max() < 1  # nothing clipped here, so the move is exact ...
    assert float(luminance(moved[None]).mean()) == pytest.approx(float(luminance(painting[None]).mean()), abs=1e-5)
    step = moved - photo  # ... and the same for every pixel and channel: brightness only
    assert float(step.max() - step.min()) < 1e-5 and float(step.abs().max()) > 1e-3
    with pytest.raises(ValueError, match="ground truth"):
        diagnosis.style_by_layer(dataclasses.replace(d, heldout_painting=None), 15)


def test_stroke_darkening_tells_outlines_from_dimming():
    photo = torch.full((3, 32, 32), 0.6)
    photo[:, :, 16:] = -0.6  # one vertical edge: the painting strokes it, and only it
    d = dataclasses.replace(tiny_domains(), heldout=photo, heldout_painting=painterly(photo),
                            heldout_strokes=stroke_map(photo))
    on = d.heldout_strokes[0] >= 0.5
    assert on.any() and on[:, :8].sum() == 0  # strokes hug the edge at column 16
    got = diagnosis.stroke_darkening({"painting": d.heldout_painting, "dimmed": photo - 0.2, "photo": photo}, d)
    assert got["photo"] == {"on strokes": 0.0, "off strokes": 0.0}
    assert got["painting"]["on strokes"] < -0.3 < got["painting"]["off strokes"]  # outlines, not dimming
    assert got["dimmed"]["on strokes"] == pytest.approx(-0.2, abs=1e-4)
    assert got["dimmed"]["off strokes"] == pytest.approx(-0.2, abs=1e-4)
    with pytest.raises(ValueError, match="ground truth"):
        diagnosis.stroke_darkening({}, dataclasses.replace(d, heldout_strokes=None))


def test_d_distances_compare_aligned_crops_and_leave_the_networks_as_they_were():
    d = tiny_domains()
    painted = [painterly(x) for x in d.domain_a]
    torch.manual_seed(0)
    G, D = shd.build(shd.SiameseHDConfig(tile=8, g_width=4, g_blocks=1, d_width=4, lenvec=8))
    D.train(), G.train()
    identity = torch.nn.Identity()
    identity.train()
    got = diagnosis.d_distances(D, identity, d, painted, n=6)
    assert got["G's translations of the photos"] == got["photos (A)"]  # the identity: the same crops, same norms
    assert got["the photos' painterly versions"] != got["photos (A)"]
    assert D.training and identity.training
    D.eval()
    assert diagnosis.d_distances(D, G, d, painted, n=6) == diagnosis.d_distances(D, G, d, painted, n=6)
    assert not D.training
    with pytest.raises(ValueError, match="one per photo"):
        diagnosis.d_distances(D, G, d, painted[:1], n=6)


def test_checkpoint_rebuilds_the_generator(tmp_path):
    s = recipe.settings("smoke")
    tr = recipe.make_trainer(tiny_domains(2 * s["tile"]), s, device="cpu",
                             record=recipe._record(s, "smoke", 0, 1, "test"))
    tr.fit(1, progress=False)
    tr.save(tmp_path / "c.pt")
    G = recipe.load_generator(tmp_path / "c.pt", device="cpu")
    x = torch.rand(2, 3, 8, 8) * 2 - 1
    assert tr.G_ema is not None  # what is measured and sampled is the moving average of G
    assert torch.allclose(G(x), tr.G_ema.eval()(x))
    assert not torch.allclose(G(x), tr.G.eval()(x))


# --- data_scripts/get_vangogh.py, offline -------------------------------------------------------------------
@pytest.fixture
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("tried to open a network socket")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def _jpeg(colour) -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (20, 12), colour).save(buf, format="JPEG")
    return buf.getvalue()


class _Response:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def read(self, n):
        chunk = self.data[self.pos:self.pos + n]
        self.pos += n
        return chunk

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_get_vangogh_trust_on_first_use_then_verify(tmp_path, monkeypatch, no_network):
    import get_vangogh as gv
    from _safe_extract import sha256_of

    served = {"u1": _jpeg((200, 30, 30)), "u2": _jpeg((30, 30, 200))}
    monkeypatch.setattr(gv, "urlopen", lambda req, timeout: _Response(served[req.full_url.rsplit("/", 1)[-1]]))
    listed = tmp_path / "list.tsv"
    known = None
    (tmp_path / "x.jpg").write_bytes(served["u2"])
    known = sha256_of(tmp_path / "x.jpg")
    listed.write_text("# comment\n"
                      "painting\tone\thttps://example.org/u1\t-\tpublic domain\tpage\n"
                      f"photo\ttwo\thttps://example.org/u2\t{known}\tCC0\tpage\n")
    out = tmp_path / "out"
    assert gv.main(["--list", str(listed), "--out", str(out)]) == 0
    record = json.loads((out / "SOURCE.json").read_text())
    assert record["files"]["painting/one"]["verified"] == "first use"
    assert record["files"]["photo/two"]["verified"] == "listed"
    sums = json.loads((out / "SHA256SUMS.json").read_text())
    assert sums["painting/one"] == sha256_of(out / "painting" / "one.jpg")
    # the server now sends another file: the recorded hash catches it, the old file stays
    served["u1"] = _jpeg((10, 200, 10))
    (out / "painting" / "one.jpg").unlink()
    assert gv.main(["--list", str(listed), "--out", str(out)]) == 1
    assert "mismatch" in json.loads((out / "SOURCE.json").read_text())["failures"][0]
    assert not (out / "painting" / "one.jpg").exists()
    assert not list((out / "painting").glob("*.part"))


def test_get_vangogh_list_and_dry_run(tmp_path, no_network, capsys):
    import get_vangogh as gv

    entries = gv.read_list(gv.DEFAULT_LIST)
    assert {e.domain for e in entries} == {"painting", "photo"} and all(e.url.startswith("https://") for e in entries)
    assert gv.main(["--dry-run", "--out", str(tmp_path)]) == 0
    assert "trust on first use" in capsys.readouterr().out
    bad = tmp_path / "bad.tsv"
    bad.write_text("painting\tone\thttp://x\t-\tpd\tpage\n")
    with pytest.raises(Exception, match="https"):
        gv.read_list(bad)


def test_run_and_sample_end_to_end_at_smoke(tmp_path):
    """The command line's path: run() trains both models, measures, writes; sample translates the held-out photo."""
    from course_lib.__main__ import main
    from course_lib.storage import safe_load

    m = recipe.run("painterly", "smoke", 0, tmp_path, steps=2, progress=False)
    assert m["steps"] == 2 and m["naive_steps"] == 2
    for key in ("seam_naive", "seam_combo", "seam_combo_whole", "style_photo", "style_closed_combo"):
        assert math.isfinite(m[key])
    assert {"checkpoint.pt", "naive.pt", "comparison.png", "losses.png"} <= {p.name for p in tmp_path.iterdir()}
    assert main(["sample", str(tmp_path), "--out", str(tmp_path / "s.pt")]) == 0
    sample = torch.load(tmp_path / "s.pt")
    s = safe_load(tmp_path / "checkpoint.pt")["config"]["settings"]
    side = round(min(512, s.get("max_side") or 512) / s["factor"])  # the astronaut at the training scale
    assert sample.shape == (1, 3, side, side)
    with pytest.raises(ValueError, match="painterly"):
        recipe.run("anime", "smoke", 0, tmp_path)


def test_variants_benchmark_refuses_a_setting_outside_settings(tmp_path):
    """A setting written beside "settings" instead of in it would train the plain recipe unnoticed."""
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).parents[1] / "benchmarks" / "siamese_hd_variants.py"
    run = lambda spec: subprocess.run([sys.executable, str(script), "train", str(tmp_path / "G.pt"), spec],  # noqa: E731
                                      capture_output=True, text=True)
    bad = run('neg={"negative_weight": 1.0, "marks": [1]}')
    assert bad.returncode != 0 and "negative_weight" in bad.stderr and 'inside "settings"' in bad.stderr
    unknown = run('x={"settings": {"no_such_setting": 1}, "marks": [1]}')
    assert unknown.returncode != 0 and "no_such_setting" in unknown.stderr
    assert not (tmp_path / "G.pt").exists()


@pytest.mark.parametrize("negative_weight", [0.0, 1.0])
def test_loss_terms_figure_draws_the_terms_the_run_logged(negative_weight):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    s = {**recipe.settings("smoke"), "negative_weight": negative_weight}
    tr = recipe.make_trainer(tiny_domains(2 * s["tile"]), s, device="cpu")
    tr.fit(2, progress=False)
    fig = recipe.loss_terms_figure(tr.history, smooth=1)
    d_labels = {line.get_label() for line in fig.axes[0].get_lines()}
    assert {"D1_real", "D2_fake_margin", "D3_travel_cos"} <= d_labels
    assert ("D_closed_margin" in d_labels) == bool(negative_weight)
    plt.close(fig)
