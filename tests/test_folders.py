"""course_lib.data.folders: user images in, [-1, 1] tensors out, and clear errors for bad input."""
from __future__ import annotations

import io
import os
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from course_lib.data import folders
from course_lib.data.folders import (
    ImageDataError,
    ImageDataWarning,
    image_to_tensor,
    load_image,
    load_image_folder,
    tensor_to_pil,
)


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_CACHE", str(tmp_path / "cache"))


def solid(path: Path, colour=(255, 0, 0), size=(12, 12), mode="RGB") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, colour).save(path)
    return path


def truncated_png(path: Path) -> Path:
    noise = np.random.default_rng(0).integers(0, 256, (48, 48, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(noise).save(buffer, format="PNG")
    path.write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    return path


def pixel(t: torch.Tensor, y=0, x=0) -> list[float]:
    return [round(v, 3) for v in t[:, y, x].tolist()]


# ---------------------------------------------------------------------------- folder errors
def test_missing_folder_names_path_and_hint(tmp_path):
    with pytest.raises(ImageDataError, match="No folder at") as info:
        load_image_folder(tmp_path / "nowhere", 8, hint="Run data_scripts/get_anime_faces.py --archive PATH.")
    assert "nowhere" in str(info.value) and "get_anime_faces.py" in str(info.value)
    assert isinstance(info.value, ValueError)


def test_file_instead_of_folder(tmp_path):
    image = solid(tmp_path / "one.png")
    with pytest.raises(ImageDataError, match="is a file, not a folder") as info:
        load_image_folder(image, 8)
    assert "load_image" in str(info.value)
    archive = tmp_path / "faces.zip"
    archive.write_bytes(b"PK")
    with pytest.raises(ImageDataError, match="archive"):
        load_image_folder(archive, 8)


def test_empty_folder(tmp_path):
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    with pytest.raises(ImageDataError, match="empty: found 0 files") as info:
        load_image_folder(tmp_path / "empty", 8)
    assert ".jpg" in str(info.value)


def test_folder_with_no_image_files(tmp_path):
    root = tmp_path / "docs"
    root.mkdir()
    for name in ("notes.txt", "labels.csv", "model.pt"):
        (root / name).write_text("x")
    with pytest.raises(ImageDataError, match="Found 3 files") as info:
        load_image_folder(root, 8)
    message = str(info.value)
    assert "none is an image" in message and ".png" in message and ".webp" in message


def test_folder_with_only_corrupt_images(tmp_path):
    root = tmp_path / "broken"
    root.mkdir()
    (root / "a.png").write_bytes(b"this is not a png")
    (root / "b.jpg").write_bytes(b"")
    truncated_png(root / "c.png")
    with pytest.raises(ImageDataError, match="none could be read") as info:
        load_image_folder(root, 8)
    assert "Found 3 files with image extensions" in str(info.value)


def test_bad_arguments(tmp_path):
    solid(tmp_path / "ok" / "a.png")
    for bad in (0, -4, 2.5, None):
        with pytest.raises(ImageDataError, match="size must be a positive integer"):
            load_image_folder(tmp_path / "ok", bad)
    with pytest.raises(ImageDataError, match="max_images"):
        load_image_folder(tmp_path / "ok", 8, max_images=0)


# ---------------------------------------------------------------------------- folder contents
def test_corrupt_among_good_warns_once_with_count(tmp_path):
    root = tmp_path / "mixed"
    for i in range(3):
        solid(root / f"good{i}.png", (0, 255, 0))
    (root / "bad1.png").write_bytes(b"garbage")
    truncated_png(root / "bad2.png")
    (root / "bad3.jpg").write_bytes(b"\xff\xd8\xff garbage")
    (root / "bad4.webp").write_bytes(b"RIFF")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        images = load_image_folder(root, 8, progress=False)
    assert images.shape == (3, 3, 8, 8)
    assert torch.allclose(images[:, 1], torch.ones(3, 8, 8))  # green channel at +1
    ours = [w for w in caught if issubclass(w.category, ImageDataWarning)]
    assert len(ours) == 1
    message = str(ours[0].message)
    assert "Skipped 4 of 7" in message and "bad1.png" in message and "and 1 more" in message


def test_modes_become_rgb_in_range(tmp_path):
    root = tmp_path / "modes"
    root.mkdir()
    solid(root / "1_gray.png", 128, mode="L")
    Image.fromarray(np.full((12, 12), 65535, dtype=np.uint16)).save(root / "2_gray16.png")
    solid(root / "3_bilevel.png", 1, mode="1")
    rgba = Image.new("RGBA", (12, 12), (0, 0, 255, 255))
    rgba.putpixel((0, 0), (0, 0, 0, 0))  # fully transparent black: must become white
    rgba.save(root / "4_rgba.png")
    palette = Image.new("P", (12, 12), 0)
    palette.putpalette([255, 0, 0] + [0, 0, 0] * 255)
    palette.save(root / "5_palette.png")
    solid(root / "6_cmyk.jpg", (0, 255, 255, 0), mode="CMYK")  # no cyan ink... red
    solid(root / "7_la.png", (0, 0), mode="LA")  # transparent black -> white
    assert Image.open(root / "2_gray16.png").mode.startswith("I")
    images = load_image_folder(root, 12, progress=False)
    assert images.shape == (7, 3, 12, 12) and images.dtype == torch.float32
    assert images.min() >= -1 and images.max() <= 1
    assert pixel(images[0]) == [round(128 / 127.5 - 1, 3)] * 3
    assert pixel(images[1]) == [1.0, 1.0, 1.0]  # 16-bit white stays white (scaled, not clipped)
    assert pixel(images[2]) == [1.0, 1.0, 1.0]
    assert pixel(images[3], 0, 0) == [1.0, 1.0, 1.0]  # transparent -> white
    assert pixel(images[3], 5, 5) == [-1.0, -1.0, 1.0]  # opaque blue kept
    assert pixel(images[4]) == [1.0, -1.0, -1.0]
    assert images[5, 0].mean() > 0.8 and images[5, 1:].mean() < -0.8  # CMYK (0, 255, 255, 0) is red
    assert pixel(images[6]) == [1.0, 1.0, 1.0]


def test_load_image_modes_and_palette_transparency(tmp_path):
    palette = Image.new("P", (6, 6), 1)
    palette.putpalette([0, 0, 0, 0, 255, 0] + [0, 0, 0] * 254)
    palette.putpixel((0, 0), 0)
    palette.save(tmp_path / "p.png", transparency=0)  # palette index 0 is transparent
    t = load_image(tmp_path / "p.png")
    assert t.shape == (3, 6, 6)
    assert pixel(t, 0, 0) == [1.0, 1.0, 1.0] and pixel(t, 3, 3) == [-1.0, 1.0, -1.0]
    gif = Image.new("L", (5, 7), 0)
    gif.save(tmp_path / "g.gif")
    assert load_image(tmp_path / "g.gif").shape == (3, 7, 5)


def test_class_subfolders_and_extensions(tmp_path):
    root = tmp_path / "classes"
    solid(root / "cats" / "a.PNG", (255, 0, 0))
    solid(root / "cats" / "deep" / "b.JPeG", (255, 0, 0))
    solid(root / "dogs" / "c.bmp", (0, 0, 255))
    solid(root / "dogs" / "d.tif", (0, 0, 255))
    solid(root / "e.webp", (0, 255, 0))
    solid(root / ".hidden" / "f.png")  # hidden folders are ignored
    solid(root / "dogs" / "._g.png")  # macOS resource forks are ignored
    (root / "dogs" / "readme.txt").write_text("not an image")
    images = load_image_folder(root, 10, progress=False)
    assert images.shape == (5, 3, 10, 10)
    # sorted by path: cats/a, cats/deep/b, dogs/c, dogs/d, e
    assert [int(images[i, c].mean().round()) for i, c in [(0, 0), (1, 0), (2, 2), (3, 2), (4, 1)]] == [1] * 5


def test_center_crop_and_resize(tmp_path):
    wide = np.zeros((20, 60, 3), dtype=np.uint8)  # (H, W, 3): red | green | blue bands, 20 px each
    wide[:, :20, 0] = 255
    wide[:, 20:40, 1] = 255
    wide[:, 40:, 2] = 255
    Image.fromarray(wide).save(tmp_path / "wide.png")
    (tmp_path / "sub").mkdir()
    Image.fromarray(wide.transpose(1, 0, 2).copy()).save(tmp_path / "sub" / "tall.png")  # 60 high, 20 wide
    images = load_image_folder(tmp_path, 8, progress=False)
    assert images.shape == (2, 3, 8, 8)
    for image in images:  # only the green centre survives the square crop
        assert torch.allclose(image[1], torch.ones(8, 8), atol=1e-6)
        assert torch.allclose(image[0], -torch.ones(8, 8), atol=1e-6)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        big = load_image_folder(tmp_path, 32, progress=False)  # upsampling 20 -> 32 is allowed, with a note
    assert big.shape == (2, 3, 32, 32)
    assert any("upsampled" in str(w.message) for w in caught)


def test_deterministic_order_and_max_images(tmp_path):
    root = tmp_path / "order"
    names = ["b10.png", "a.png", "b2.png", "Z.png", "m/a.png"]
    for i, name in enumerate(names):
        solid(root / name, (i * 50, 0, 0))
    first = load_image_folder(root, 4, progress=False, use_cache=False)
    again = load_image_folder(root, 4, progress=False, use_cache=False)
    assert torch.equal(first, again)
    expected = sorted(range(len(names)), key=lambda i: Path(names[i]).parts)
    reds = [round((v + 1) * 127.5) for v in first[:, 0, 0, 0].tolist()]
    assert reds == [i * 50 for i in expected]
    top2 = load_image_folder(root, 4, max_images=2, progress=False)
    assert torch.equal(top2, first[:2])
    (root / "a.png").write_bytes(b"corrupt now")  # max_images counts readable images
    with pytest.warns(ImageDataWarning, match="a.png"):
        top2 = load_image_folder(root, 4, max_images=2, progress=False)
    assert torch.equal(top2, first[[0, 2]])  # "Z.png", then "b10.png" (sorted by code point)


def test_cache_reused_then_invalidated(tmp_path, monkeypatch):
    root = tmp_path / "cached"
    solid(root / "a.png", (255, 0, 0))
    solid(root / "b.png", (0, 255, 0))
    first = load_image_folder(root, 6, progress=False)
    cache_files = list((tmp_path / "cache" / "folders").glob("*.pt"))
    assert len(cache_files) == 1

    real_decoder = folders._load_square

    def must_not_decode(*args, **kwargs):
        raise AssertionError("decoded again although the cache is valid")

    monkeypatch.setattr(folders, "_load_square", must_not_decode)
    second = load_image_folder(root, 6, progress=False)
    assert torch.equal(first, second)

    # Change one file (new content, new size, new mtime): the cache must not be used.
    solid(root / "b.png", (0, 0, 255), size=(14, 14))
    os.utime(root / "b.png", ns=(1_000_000_000, 1_000_000_000))
    with pytest.raises(AssertionError, match="decoded again"):
        load_image_folder(root, 6, progress=False)
    monkeypatch.setattr(folders, "_load_square", real_decoder)
    third = load_image_folder(root, 6, progress=False)
    assert pixel(third[1]) == [-1.0, -1.0, 1.0]
    # A different size or max_images is a different cache entry.
    assert load_image_folder(root, 3, progress=False).shape == (2, 3, 3, 3)
    # A damaged cache file is ignored and rewritten, not an error.
    for path in (tmp_path / "cache" / "folders").glob("*.pt"):
        path.write_bytes(b"broken")
    assert torch.equal(load_image_folder(root, 6, progress=False), third)


# ---------------------------------------------------------------------------- single images
def test_load_image_errors(tmp_path):
    with pytest.raises(ImageDataError, match="No file at"):
        load_image(tmp_path / "missing.png")
    with pytest.raises(ImageDataError, match="is a folder.*load_image_folder"):
        load_image(tmp_path)
    (tmp_path / "text.png").write_text("hello")
    with pytest.raises(ImageDataError, match="not a recognised image format") as info:
        load_image(tmp_path / "text.png")
    assert "text.png" in str(info.value)
    with pytest.raises(ImageDataError, match="truncated or corrupt"):
        load_image(truncated_png(tmp_path / "cut.png"))
    with pytest.raises(ImageDataError, match="max_side"):
        load_image(solid(tmp_path / "ok.png"), max_side=0)


def test_load_image_max_side_and_exif(tmp_path):
    solid(tmp_path / "big.png", (10, 20, 30), size=(100, 40))
    t = load_image(tmp_path / "big.png", max_side=25)
    assert t.shape == (3, 10, 25)
    assert load_image(tmp_path / "big.png", max_side=500).shape == (3, 40, 100)  # never enlarged
    photo = Image.new("RGB", (40, 20), (200, 100, 50))
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    photo.save(tmp_path / "phone.jpg", exif=exif)
    assert load_image(tmp_path / "phone.jpg").shape == (3, 40, 20)
    assert load_image(tmp_path / "phone.jpg", max_side=10).shape == (3, 10, 5)


def test_tensor_pil_round_trip():
    t = torch.linspace(-1, 1, 3 * 5 * 7).reshape(3, 5, 7)
    img = tensor_to_pil(t)
    assert img.size == (7, 5) and img.mode == "RGB"
    back = image_to_tensor(img)
    assert back.shape == (3, 5, 7) and (back - t).abs().max() <= 1 / 127.5 + 1e-6
    assert tensor_to_pil(torch.zeros(1, 4, 4)).mode == "L"
    with pytest.raises(ImageDataError, match="shape"):
        tensor_to_pil(torch.zeros(2, 3, 4, 4))
