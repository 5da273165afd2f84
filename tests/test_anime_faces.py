"""Tests for the procedural anime faces (course_lib.data.anime): shapes, determinism, editability
(hair colour alone), the render cache, and input validation. Small n and sizes keep them fast."""
from __future__ import annotations

import pytest
import torch

from course_lib.data import anime

SIZE = 32


@pytest.fixture(autouse=True)
def _private_cache(monkeypatch, tmp_path):
    # Every test gets its own empty cache, so nothing leaks between tests or into ~/.cache.
    monkeypatch.setenv("COURSE_CACHE", str(tmp_path))


def _cache_files(tmp_path):
    return sorted((tmp_path / "faces").glob("*.pt"))


def test_public_constants():
    assert list(anime.ATTRIBUTES) == ["hair_colour", "hair_style", "eye_colour", "face_shape", "mouth"]
    assert all(len(classes) >= 3 for classes in anime.ATTRIBUTES.values())
    assert all(len(set(classes)) == len(classes) for classes in anime.ATTRIBUTES.values())
    assert set(anime.HAIR_RGB) == set(anime.ATTRIBUTES["hair_colour"])
    assert set(anime.EYE_RGB) == set(anime.ATTRIBUTES["eye_colour"])
    assert isinstance(anime.GENERATOR_VERSION, str) and anime.GENERATOR_VERSION


def test_sample_params_types_and_ranges():
    n = 50
    params = anime.sample_params(n, seed=3)
    for key, classes in anime.ATTRIBUTES.items():
        assert params[key].dtype == torch.int64 and params[key].shape == (n,)
        assert 0 <= params[key].min() and params[key].max() < len(classes)
    floats = [k for k, v in params.items() if v.is_floating_point()]
    assert len(floats) >= 8, "expected continuous jitter (position, scale, tilt, colours, ...)"
    assert all(params[k].dtype == torch.float32 and params[k].shape == (n,) for k in floats)
    assert params["face_seed"].dtype == torch.int64 and params["face_seed"].unique().numel() == n
    # Same seed -> same recipe; another seed -> another recipe.
    again = anime.sample_params(n, seed=3)
    assert all(torch.equal(params[k], again[k]) for k in params)
    other = anime.sample_params(n, seed=4)
    assert not torch.equal(params["face_x"], other["face_x"])


def test_sample_params_leaves_global_rng_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    anime.sample_params(10, seed=0)
    assert torch.equal(torch.rand(3), expected)


def test_shapes_dtype_range_and_distinct_faces():
    images, labels = anime.procedural_faces(12, size=SIZE, seed=0)
    assert images.shape == (12, 3, SIZE, SIZE) and images.dtype == torch.float32
    assert images.min() >= -1.0 and images.max() <= 1.0
    assert images.std() > 0.2, "faces should have contrast, not a flat colour"
    flat = images.flatten(1)
    dist = torch.cdist(flat, flat) + torch.eye(12) * 1e9
    assert dist.min() > 1.0, "two faces in the batch are (nearly) identical"
    assert list(labels) == list(anime.ATTRIBUTES)
    params = anime.sample_params(12, seed=0)
    for key in anime.ATTRIBUTES:
        assert labels[key].dtype == torch.int64
        assert torch.equal(labels[key], params[key])


def test_other_sizes():
    images = anime.render_faces(anime.sample_params(2, seed=1), size=8)
    assert images.shape == (2, 3, 8, 8)
    images = anime.render_faces(anime.sample_params(1, seed=1), size=64)
    assert images.shape == (1, 3, 64, 64)


def test_determinism_by_seed():
    a, _ = anime.procedural_faces(4, size=SIZE, seed=7)
    # Rendering again from scratch (not the cache) gives identical pixels.
    b = anime.render_faces(anime.sample_params(4, seed=7), size=SIZE)
    assert torch.equal(a, b)
    c = anime.render_faces(anime.sample_params(4, seed=8), size=SIZE)
    assert not torch.equal(a, c)
    assert (a - c).abs().mean() > 0.05


def test_each_face_depends_only_on_its_own_entries():
    params = anime.sample_params(6, seed=2)
    full = anime.render_faces(params, size=SIZE)
    part = anime.render_faces({k: v[2:4] for k, v in params.items()}, size=SIZE)
    assert torch.equal(full[2:4], part)


def _lower_face_box(params, i, size):
    """Pixel box around the mouth and lower cheeks of face i, where hair never falls."""
    unit = size * anime._FACE_UNIT * float(params["face_scale"][i])
    cx = size * (0.5 + float(params["face_x"][i]))
    cy = size * (0.53 + float(params["face_y"][i]))
    x0, x1 = int(cx - 0.45 * unit), int(cx + 0.45 * unit) + 1
    y0, y1 = int(cy + 0.35 * unit), int(cy + 0.85 * unit) + 1
    return slice(max(y0, 0), min(y1, size)), slice(max(x0, 0), min(x1, size))


def test_changing_hair_colour_changes_only_the_hair():
    n, size = 8, 48
    params = anime.sample_params(n, seed=5)
    before = anime.render_faces(params, size=size)
    edited = {k: v.clone() for k, v in params.items()}
    edited["hair_colour"] = (params["hair_colour"] + 3) % len(anime.ATTRIBUTES["hair_colour"])
    after = anime.render_faces(edited, size=size)
    names = anime.ATTRIBUTES["hair_colour"]
    for i in range(n):
        changed = (after[i] - before[i]).abs().amax(0) > 2 / 255  # (H, W)
        # A good part of the image is hair, and it changed...
        assert changed.float().mean() > 0.08, f"face {i}: hair colour edit changed almost nothing"
        # ...towards the new hair colour, away from the old one...
        new_rgb = torch.tensor(anime.HAIR_RGB[names[edited["hair_colour"][i]]]) / 127.5 - 1
        old_rgb = torch.tensor(anime.HAIR_RGB[names[params["hair_colour"][i]]]) / 127.5 - 1

        def dist_to(rgb, img):
            return (img[:, changed] - rgb[:, None]).norm(dim=0).median()

        assert dist_to(new_rgb, after[i]) < dist_to(new_rgb, before[i])
        assert dist_to(old_rgb, before[i]) < dist_to(old_rgb, after[i])
        # ...while the lower face (mouth, cheeks) stayed exactly as it was.
        rows, cols = _lower_face_box(params, i, size)
        assert changed[rows, cols].numel() > 20
        assert changed[rows, cols].float().mean() < 0.02, f"face {i}: the edit redrew the face, not only the hair"
    # The hair keeps its shape (bangs, strands): a third colour changes the same pixels as the second.
    edited["hair_colour"] = (params["hair_colour"] + 5) % len(names)
    third = anime.render_faces(edited, size=size)
    mask_b = (after - before).abs().amax(1) > 2 / 255  # (n, H, W)
    mask_c = (third - before).abs().amax(1) > 2 / 255
    disagree = (mask_b ^ mask_c).sum((1, 2)) / (mask_b | mask_c).sum((1, 2))
    assert disagree.max() < 0.01, f"hair shape depends on its colour: {disagree.tolist()}"
    # The same recipe drawn again is pixel-identical, so the checks above are not noise.
    assert torch.equal(anime.render_faces(params, size=size), before)


def test_other_attributes_change_the_image():
    params = anime.sample_params(4, seed=9)
    base = anime.render_faces(params, size=SIZE)
    for key, classes in anime.ATTRIBUTES.items():
        edited = dict(params)
        edited[key] = (params[key] + 1) % len(classes)
        changed = anime.render_faces(edited, size=SIZE)
        assert all(not torch.equal(base[i], changed[i]) for i in range(4)), key


def test_cache_is_written_then_read(tmp_path, monkeypatch):
    first, labels = anime.procedural_faces(5, size=SIZE, seed=11)
    files = _cache_files(tmp_path)
    assert len(files) == 1 and anime.GENERATOR_VERSION in files[0].name
    payload = torch.load(files[0], weights_only=True)
    assert payload["images"].dtype == torch.uint8  # stored compactly

    def must_not_render(*args, **kwargs):
        raise AssertionError("the renderer ran although the faces were cached")

    monkeypatch.setattr(anime, "_render_uint8", must_not_render)
    second, labels2 = anime.procedural_faces(5, size=SIZE, seed=11)
    assert torch.equal(first, second)
    assert all(torch.equal(labels[k], labels2[k]) for k in labels)
    # Another size, seed or n is another cache entry, so it must render.
    with pytest.raises(AssertionError, match="renderer ran"):
        anime.procedural_faces(5, size=SIZE, seed=12)


def test_corrupt_cache_is_rendered_again(tmp_path):
    first, _ = anime.procedural_faces(3, size=SIZE, seed=13)
    (path,) = _cache_files(tmp_path)
    path.write_bytes(b"not a torch file")
    with pytest.warns(UserWarning, match="cache"):
        again, _ = anime.procedural_faces(3, size=SIZE, seed=13)
    assert torch.equal(first, again)
    assert torch.load(path, weights_only=True)["images"].shape == (3, 3, SIZE, SIZE)  # repaired
    # A readable file with the wrong contents is redrawn too.
    torch.save({"images": torch.zeros(2, 3, SIZE, SIZE, dtype=torch.uint8)}, path)
    with pytest.warns(UserWarning, match="cache"):
        again, _ = anime.procedural_faces(3, size=SIZE, seed=13)
    assert torch.equal(first, again)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"n": 0}, "n must be at least 1"),
        ({"n": -3}, "n must be at least 1"),
        ({"n": 2.5}, "n must be an int"),
        ({"n": 2, "size": 4}, "size must be at least 8"),
        ({"n": 2, "size": 32.0}, "size must be an int"),
        ({"n": 2, "seed": "a"}, "seed must be an int"),
    ],
)
def test_bad_dataset_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        anime.procedural_faces(**kwargs)


def test_bad_params():
    params = anime.sample_params(3, seed=0)
    with pytest.raises(ValueError, match="n must be at least 1"):
        anime.sample_params(0)
    with pytest.raises(ValueError, match="size must be at least 8"):
        anime.render_faces(params, size=7)
    bad = dict(params, hair_colour=torch.tensor([0, 8, 1]))
    with pytest.raises(ValueError, match=r"hair_colour.*\[1\] = 8 is out of range.*8 classes"):
        anime.render_faces(bad, size=SIZE)
    bad = dict(params, mouth=torch.tensor([0, 1, -1]))
    with pytest.raises(ValueError, match="mouth.*out of range"):
        anime.render_faces(bad, size=SIZE)
    missing = {k: v for k, v in params.items() if k not in ("eye_colour", "tilt")}
    with pytest.raises(ValueError, match="missing eye_colour, tilt.*sample_params"):
        anime.render_faces(missing, size=SIZE)
    with pytest.raises(ValueError, match="has 2 values"):
        anime.render_faces(dict(params, tilt=params["tilt"][:2]), size=SIZE)
    with pytest.raises(ValueError, match="integers"):
        anime.render_faces(dict(params, face_shape=params["face_shape"].float()), size=SIZE)
    with pytest.raises(ValueError, match="NaN"):
        anime.render_faces(dict(params, gaze=torch.tensor([0.0, float("nan"), 0.0])), size=SIZE)
    with pytest.raises(ValueError, match="dict"):
        anime.render_faces([1, 2, 3], size=SIZE)
